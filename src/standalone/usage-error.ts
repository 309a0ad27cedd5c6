import { LifelineError } from '../core/errors.js';

/** A setting (or a combination of them) the standalone server cannot run with: `lifeline serve` exits 2 with its message. */
export class UsageError extends LifelineError {
  override name = 'UsageError';
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}
