/** A setting (or a combination of them) the standalone server cannot run with: `lifeline serve` exits 2 with its message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
