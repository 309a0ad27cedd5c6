import { environmentStep } from '../core/reconnect-plan.js';
import type { ReconnectingWebSocket } from './reconnecting-websocket.js';

/** Page awareness as the client drives it. */
export interface PageAwareness {
  /** The page is hidden or the device offline: a retry waits. */
  away(): boolean;
  /** Stops listening to the environment. */
  dispose(): void;
}

/**
 * The `pageAwareness` option of `ReconnectingWebSocket`, made by {@link withPageAwareness}:
 * called with the client (its `environment` option, clock and state), how to pause the pending
 * retry (`'pause'`) or retry after some ms (0: now), the clock time a server's retry hint set
 * the pending retry due (0: no hint), and what to tell the heartbeat when the page is visible again.
 */
export type PageAwarenessPlugin = (client: ReconnectingWebSocket, step: (step: 'pause' | number) => void, hintedDue: () => number, visible: () => void) => PageAwareness;

/**
 * Retries that wait while the page is hidden or the device offline, as an opt-in module (a bare
 * client bundles none of it): `pageAwareness: withPageAwareness()` with
 * `environment: browserEnvironment()` (or any `ClientEnvironment`). Going away pauses a pending
 * retry; coming back retries at once, but a server's retry hint still holds.
 * `LifelineClient` turns it on by default.
 */
export function withPageAwareness(): PageAwarenessPlugin {
  return pageAwareness;
}

/** The plug-in {@link withPageAwareness} returns (`LifelineClient` takes it as it is: one call less in its bundle). */
export const pageAwareness: PageAwarenessPlugin = (client, step, hintedDue, visible) => {
  const { environment, clock } = client.options;
  const away = () => environment.hidden() || !environment.online();
  return {
    away,
    dispose: environment.subscribe(() => {
      if (!environment.hidden()) visible();
      const next = environmentStep(client.state, away(), hintedDue(), clock.now());
      if (next !== undefined) step(next);
    }),
  };
};
