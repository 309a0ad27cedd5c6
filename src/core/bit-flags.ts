/**
 * Yes/no state kept as bits of one number (a field per boolean costs memory in objects held per
 * idle connection or session).
 */

/** `flags` with `bit` set when `on`, cleared otherwise. */
export function withBit(flags: number, bit: number, on: boolean): number {
  return on ? flags | bit : flags & ~bit;
}
