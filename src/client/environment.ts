/**
 * Where the client runs, as a small port: is the page hidden, is the device online, and a way
 * to hear when either changes. Injected, so the reconnect logic never sniffs the platform.
 */
export interface ClientEnvironment {
  hidden(): boolean;
  online(): boolean;
  /** Calls `onChange` on every visibility or connectivity change; returns an unsubscribe. */
  subscribe(onChange: () => void): () => void;
}

/** For Node and workers: always visible, always online. */
export const steadyEnvironment: ClientEnvironment = {
  hidden: () => false,
  online: () => true,
  subscribe: () => () => undefined,
};

interface BrowserGlobals {
  document?: { readonly visibilityState?: string; addEventListener(type: string, fn: () => void): void; removeEventListener(type: string, fn: () => void): void };
  navigator?: { readonly onLine?: boolean };
  addEventListener?: (type: string, fn: () => void) => void;
  removeEventListener?: (type: string, fn: () => void) => void;
}

/** The page's Page Visibility and online/offline signals, where they exist. */
export function browserEnvironment(): ClientEnvironment {
  const g = globalThis as BrowserGlobals;
  const doc = g.document;
  if (!doc || typeof g.addEventListener !== 'function') return steadyEnvironment;
  return {
    hidden: () => doc.visibilityState === 'hidden',
    online: () => g.navigator?.onLine !== false,
    subscribe(onChange) {
      doc.addEventListener('visibilitychange', onChange);
      g.addEventListener?.('online', onChange);
      g.addEventListener?.('offline', onChange);
      return () => {
        doc.removeEventListener('visibilitychange', onChange);
        g.removeEventListener?.('online', onChange);
        g.removeEventListener?.('offline', onChange);
      };
    },
  };
}
