import { LifelineError } from './errors.js';

export interface Transition<S extends string, D> {
  readonly from: S;
  readonly to: S;
  readonly detail: D;
}

/**
 * A move checked against a table of allowed moves: `next`, or a throw for a move the table does
 * not allow. For a holder that keeps its state in a field of its own (a connection, one per
 * socket, saves a machine object).
 */
export function checkedMove<S extends string>(allowed: { readonly [K in S]: readonly S[] }, from: S, next: S): S {
  if (!allowed[from].includes(next)) throw new LifelineError('ERR_ILLEGAL_STATE', `illegal state transition ${from} -> ${next}`);
  return next;
}

/**
 * One state enum and one transition function per machine: every move is checked against the
 * table of allowed moves and reported once, with what caused it. No scattered booleans.
 *
 * @example
 * const m = new StateMachine('open', { open: ['closing', 'closed'], closing: ['closed'], closed: [] }, log);
 * m.to('closing', { code: 1000, reason: '' });
 */
export class StateMachine<S extends string, D = undefined> {
  #state: S;

  constructor(
    initial: S,
    private readonly allowed: { readonly [K in S]: readonly S[] },
    private readonly onChange?: (transition: Transition<S, D>) => void,
  ) {
    this.#state = initial;
  }

  get state(): S {
    return this.#state;
  }

  can(next: S): boolean {
    return this.allowed[this.#state].includes(next);
  }

  /** Moves to `next`; throws on a move the table does not allow. */
  to(next: S, detail: D): void {
    const from = this.#state;
    this.#state = checkedMove(this.allowed, from, next);
    this.onChange?.({ from, to: next, detail });
  }
}
