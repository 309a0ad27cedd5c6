// Type-checked against the built declarations by test/package/declarations.test.ts; never run.
// A broker of one's own implements `Broker` from `lifeline/server`, its optional members too:
// every type their signatures use can be named from there.
import type { Broker, ControlNotice, DirectListener, RequestWindow, Unsubscribe, WindowVerdict } from 'lifeline/server';

const listeners = new Map<string, DirectListener>();
const windows = new Map<string, RequestWindow<unknown>>();

export const extras: Pick<Required<Broker>, 'shareWindow' | 'listenDirect' | 'unlistenDirect' | 'broadcast' | 'onBroadcast'> = {
  shareWindow: (session: string, window: RequestWindow<unknown>): boolean => !windows.has(session) && windows.set(session, window).has(session),
  listenDirect: (session: string, listener: DirectListener): void => void listeners.set(session, listener),
  unlistenDirect: (session: string): void => void listeners.delete(session),
  broadcast: async (notice: ControlNotice): Promise<void> => console.log(notice.kind),
  onBroadcast: async (listener: (notice: ControlNotice) => void): Promise<Unsubscribe> => {
    listener({ kind: 'disconnect-user', user: 'u', reason: 'r' });
    return async () => undefined;
  },
};

export function verdict(window: RequestWindow<unknown>, id: number): WindowVerdict<unknown>['kind'] {
  return window.check(id).kind;
}
