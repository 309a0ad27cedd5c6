import { RequestWindow } from '../../src/core/request-window.js';
import type { IdSource, SecretPort } from '../../src/protocol/hello.js';
import { Session } from '../../src/protocol/session.js';
import type { FakeClock } from '../../src/testing/fake-clock.js';

/** Secrets digested as a readable tag: enough to tell them apart, no crypto in the core's tests. */
export const secrets: SecretPort = {
  digest: (secret) => `digest(${secret})`,
  matches: (presented, stored) => presented !== undefined && stored === `digest(${presented})`,
};

/** Counted ids: s-1, s-2… and secret-1, secret-2… */
export function countedIds(): IdSource {
  let sessions = 0;
  let secretsMade = 0;
  return { session: () => `s-${++sessions}`, secret: () => `secret-${++secretsMade}` };
}

export const REQUEST_TIMEOUT = 1_000;

export function newSession(clock: FakeClock, options: { readonly id?: string; readonly window?: RequestWindow<unknown> } = {}): Session<{ readonly name: string }> {
  return new Session({
    id: options.id ?? 's-1',
    user: { name: 'ada' },
    resume: { secret: 'digest(secret-1)', anonymous: false },
    window: options.window ?? new RequestWindow<unknown>(4),
    settings: { clock, requestTimeout: REQUEST_TIMEOUT, windowSize: 4 },
  });
}

/** The texts of the `send` steps, parsed. */
export function sent(steps: readonly { readonly kind: string; readonly text?: string }[]): unknown[] {
  return steps.filter((step) => step.kind === 'send').map((step) => JSON.parse(step.text ?? 'null') as unknown);
}
