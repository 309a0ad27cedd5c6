// Type-checked against the built declarations by test/package/declarations.test.ts; never run.
// `instanceof` narrows an error's `code` to a string union, never to `any`.
import { ConnectionClosedError, LifelineError, ReplyError } from 'lifeline/client';

export function codeOf(error: unknown): string | undefined {
  if (error instanceof ReplyError) {
    // @ts-expect-error a reply code is a string, not a number
    const wrong: number = error.code;
    return wrong === 0 ? error.code : error.code.toUpperCase();
  }
  if (error instanceof ConnectionClosedError) return error.code;
  if (error instanceof LifelineError) {
    // @ts-expect-error `code` is a string union (it read as `any` when the class was generic)
    const wrong: number = error.code;
    return wrong === 0 ? undefined : error.code;
  }
  return undefined;
}
