import type { LifelineServer } from '../server/index.js';

/** The largest demo chat message, as JSON characters. */
const MAX_CHAT_MESSAGE = 2048;

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

/** Who publishes: the token's subject, and the name it shows (the `name` claim; else the subject). */
export interface ChatSender {
  readonly id: string;
  readonly name: string;
}

/**
 * Demo mode's rule for what the page publishes on `chat:*`: `{user, text, ...}` where `user` is
 * the token's own name (nobody posts under another name with their token) and `id`, if there, the
 * token's own subject (the demo page marks a message "(you)" by it, so nobody's message reads
 * "(you)" on another visitor's page), `text` is 1-500 characters and the whole message is at
 * most 2 KiB as JSON (every visitor's page replays the last messages: one visitor's
 * megabyte-sized "chat message" would be every later visitor's download). A refusal says what
 * was expected, so a hand-typed publish (`lifeline connect`) can be fixed.
 */
export function checkChatMessage(sender: ChatSender, channel: string, data: unknown): true | { readonly refused: string } {
  if (!channel.startsWith('chat:')) return true;
  const message = data as { user?: unknown; id?: unknown; text?: unknown } | null;
  const ok =
    typeof message === 'object' &&
    message !== null &&
    message.user === sender.name &&
    (message.id === undefined || message.id === sender.id) &&
    typeof message.text === 'string' &&
    message.text.length >= 1 &&
    message.text.length <= 500 &&
    JSON.stringify(message).length <= MAX_CHAT_MESSAGE;
  if (ok) return true;
  return {
    refused: `the demo's chat:* channels take {"user":${JSON.stringify(sender.name)},"text":"1-500 characters"}, at most ${MAX_CHAT_MESSAGE} characters as JSON: user must be your own name (the token's name), and id, if given, your own user id (${JSON.stringify(sender.id)})`,
  };
}
