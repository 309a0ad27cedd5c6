import type { LifelineServer } from '../server/index.js';

/**
 * Request methods the demo page uses (demo mode only).
 *
 * `demo.drop`: the server ends this connection's TCP link at once, with no close frame, so the
 * page shows a real abnormal close (1006) and its recovery. The reply is recorded before it is
 * sent, and the link is gone by then: the client resends the request after it resumes and gets
 * the stored reply, so the drop happens once.
 */
export function attachDemoHandlers<User>(server: LifelineServer<User>): void {
  server.handle('demo.drop', (_params, { connection }) => {
    server.log.info({ id: connection.id }, 'demo.drop: terminating the connection on request');
    connection.terminate();
    return { dropped: true };
  });
}

/**
 * Demo mode's rule for what the page publishes on `chat:*`: `{user, text, ...}` where `user` is
 * the token's own name (nobody posts as someone else) and `text` is 1-500 characters. A refusal
 * says what was expected, so a hand-typed publish (`lifeline connect`) can be fixed.
 */
export function checkChatMessage(userId: string | undefined, channel: string, data: unknown): true | { readonly refused: string } {
  if (!channel.startsWith('chat:')) return true;
  const message = data as { user?: unknown; text?: unknown } | null;
  const ok = typeof message === 'object' && message !== null && message.user === userId && typeof message.text === 'string' && message.text.length >= 1 && message.text.length <= 500;
  if (ok) return true;
  return { refused: `the demo's chat:* channels take {"user":${JSON.stringify(userId ?? '')},"text":"1-500 characters"}: user must be your own name (the token's subject)` };
}
