import type { Logger } from 'pino';
import { z } from 'zod';
import type { Envelope } from '../core/envelope.js';
import type { Connection, LifelineServer } from '../server/index.js';

/**
 * The demo's application protocol on the WebSocket endpoint (client -> server):
 *   {"type":"chat","name":"ada","text":"hello"}   broadcast to everyone
 *   {"type":"debug.drop"}                         the server cuts this connection without a
 *                                                  close handshake, so the client sees a real 1006
 * Server -> client: welcome, presence, chat, error (see {@link attachChat}).
 */
const chatMessage = z.object({
  name: z.string({ error: 'name must be a string' }).trim().min(1, 'name must be 1-40 characters').max(40, 'name must be 1-40 characters'),
  text: z.string({ error: 'text must be a string' }).trim().min(1, 'text must be 1-500 characters').max(500, 'text must be 1-500 characters'),
});

export interface ChatOptions {
  readonly log: Logger;
  /** Wall-clock time for `at`, ms since the epoch. */
  readonly now?: () => number;
}

/**
 * Wires the broadcast chat onto a server:
 * - a new connection gets `{"type":"welcome","id","online"}`; everyone gets `{"type":"presence","online"}`
 *   on every join and leave;
 * - a valid chat message is broadcast as `{"type":"chat","name","text","at"}` (serialized once);
 * - an invalid one gets `{"type":"error","code":"bad_chat","message"}` and the connection stays open.
 */
export function attachChat(server: LifelineServer, options: ChatOptions): void {
  const { log } = options;
  const now = options.now ?? Date.now;
  const presence = (): void => {
    // While draining every client is being closed: a count nobody can act on is noise.
    if (server.state === 'running') server.broadcast({ type: 'presence', online: server.connections.size });
  };
  server.on('connection', (connection) => {
    log.debug({ id: connection.id, remoteAddress: connection.remoteAddress }, 'joined');
    connection.send({ type: 'welcome', id: connection.id, online: server.connections.size });
    presence();
  });
  server.on('close', (connection, report) => {
    log.debug({ id: connection.id, code: report.code, wasClean: report.wasClean }, 'left');
    presence();
  });
  server.on('message', (connection, message) => {
    if (message.type === 'chat') chat(server, connection, message, now);
    else if (message.type === 'debug.drop') {
      log.info({ id: connection.id }, 'debug.drop: terminating the connection on request');
      connection.terminate();
    } else {
      connection.send({ type: 'error', code: 'unknown_type', message: `unknown message type "${message.type}"` });
    }
  });
}

function chat(server: LifelineServer, connection: Connection, message: Envelope, now: () => number): void {
  const parsed = chatMessage.safeParse(message);
  if (!parsed.success) {
    connection.send({ type: 'error', code: 'bad_chat', message: parsed.error.issues[0]?.message ?? 'invalid chat message' });
    return;
  }
  const { name, text } = parsed.data;
  server.broadcast({ type: 'chat', name, text, at: now() });
}
