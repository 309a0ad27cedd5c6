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
