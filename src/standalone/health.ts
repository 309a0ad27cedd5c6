import type { LifelineServer } from '../server/index.js';
import { sendJson } from './http-json.js';
import type { Route } from './router.js';

/** Why a server is not ready, or undefined when it is. */
export function notReadyReason<User>(server: LifelineServer<User>, leaving = false): string | undefined {
  if (leaving && server.state === 'running') return 'draining: leaving the load balancer';
  if (server.ready) return undefined;
  if (server.state !== 'running') return server.state === 'draining' ? 'draining: shutting down' : 'closed';
  return 'the broker is not ready';
}

/**
 * `GET /healthz`: 200 whenever the process answers HTTP (liveness: restart it when this fails).
 * `GET /readyz`: 200 while it accepts connections and its broker serves, else 503 with the
 * reason (readiness: send no new clients here, e.g. while it drains for a shutdown).
 */
export function healthRoutes<User>(server: LifelineServer<User>, leaving: () => boolean = () => false): Route[] {
  return [
    { method: 'GET', path: '/healthz', handle: ({ response }) => sendJson(response, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: ({ response }) => {
        const reason = notReadyReason(server, leaving());
        if (reason === undefined) sendJson(response, 200, { status: 'ready' });
        else sendJson(response, 503, { status: 'not_ready', reason });
      },
    },
  ];
}
