// Type-checked against the built declarations by test/package/declarations.test.ts (skipLibCheck:
// false, the browser entry's types); never run. The opt-in modules' option types must accept
// what their factories make and refuse the forms only the Node entry takes.
import { LifelineClient, ReconnectingWebSocket, withOutbox, withTokenRefresh, type OutboxStore } from 'lifeline/client';

const store: OutboxStore = { load: async () => undefined, save: async () => undefined };
const provider = async (): Promise<string> => 'token';

export const accepted = new LifelineClient('ws://127.0.0.1/ws', { outbox: withOutbox(store), refreshToken: withTokenRefresh(provider) });
// @ts-expect-error a bare store is the Node entry's form: the browser entry needs withOutbox(store)
export const bareStore = new LifelineClient('ws://127.0.0.1/ws', { outbox: store });
// @ts-expect-error a bare provider is the Node entry's form: the browser entry needs withTokenRefresh(provider)
export const bareProvider = new LifelineClient('ws://127.0.0.1/ws', { refreshToken: provider });

// No `any` in public types: the DOM lib's MessageEvent types `data` as any; the client's does not.
const socket = new ReconnectingWebSocket('ws://127.0.0.1/ws');
socket.onmessage = (event) => {
  const data: string | ArrayBuffer | Blob = event.data;
  // @ts-expect-error the data is a string, an ArrayBuffer or a Blob, not any
  const wrong: number = event.data;
  void [data, wrong];
};
export const binaryType: BinaryType = socket.binaryType;
export const waits = [socket.opened({ signal: AbortSignal.timeout(1000) }), accepted.ready({ signal: AbortSignal.timeout(1000) })];

// A drop-in: a client fits where the DOM's WebSocket, or its constructor, is expected (a
// library that takes a WebSocket or a WebSocket class). Its close and error handlers still see
// the client's own members, optional there (the DOM types those handlers for plain events).
export const asWebSocket: WebSocket = socket;
export const asWebSocketClass: typeof WebSocket = ReconnectingWebSocket;
socket.onclose = (event) => {
  const code: number = event.code;
  const willReconnect: boolean | undefined = event.willReconnect;
  void [code, willReconnect];
};
socket.onerror = (event) => {
  const error: Error | undefined = event.error;
  void error;
};
socket.addEventListener('close', (event) => {
  const willReconnect: boolean = event.willReconnect;
  void willReconnect;
});
