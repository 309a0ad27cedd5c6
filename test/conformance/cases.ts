/**
 * WHATWG WebSocket API cases, run side by side against a reference WebSocket (undici's in Node,
 * the browser's own in Chromium) and against ReconnectingWebSocket. Each case returns plain
 * data; the suites assert the two results are equal, except for the documented deviations
 * named in {@link deviations}. No Node imports: this file is bundled into a page too.
 *
 * The server the cases talk to (see server.ts): echoes every message; answers "close:CODE:REASON"
 * by closing with that code and reason, "hold:KEY" by sending a close frame and keeping the TCP
 * connection open until "release:KEY", "drop" by ending the TCP connection with no close frame;
 * picks the first offered subprotocol.
 */

/** The part of the WebSocket API the cases touch, on either implementation. */
export interface SocketUnderTest extends EventTarget {
  readonly url: string;
  readonly readyState: number;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: unknown;
  onmessage: unknown;
  onclose: unknown;
  onerror: unknown;
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): unknown;
  close(code?: number, reason?: string): void;
}

/** Makes a socket, as `new WebSocket(url, protocols)` would. */
export type MakeSocket = (url: string | URL, protocols?: unknown) => SocketUnderTest;

/** The class under test, for its static members. */
export interface Subject {
  readonly make: MakeSocket;
  readonly constructor: object;
}

export interface Case {
  readonly name: string;
  run(subject: Subject, base: string): Promise<unknown>;
}

/** A documented deviation: why, and what ReconnectingWebSocket gives instead. */
export interface Deviation {
  readonly why: string;
  readonly lifeline: unknown;
}

/**
 * Where ReconnectingWebSocket differs on purpose, by case name (also in docs/how-to/migrating.md).
 * Every other case must give the same result on both implementations.
 */
export const deviations: Readonly<Record<string, Deviation>> = {
  'binaryType default': { why: "'arraybuffer' on every platform (WHATWG: 'blob'); the binaryType option restores it", lifeline: 'arraybuffer' },
  'send while connecting': { why: 'queued and flushed on open (WHATWG throws InvalidStateError)', lifeline: 'none' },
  'close code conversions': {
    why: 'the code must be an integer number: a numeric string or a fraction is refused with InvalidCloseError (WHATWG converts it with ToNumber and rounds it); exact conversion would cost ~50 B of the bundle',
    lifeline: [true, true, true],
  },
  'close arguments checked': {
    why: 'a bad code or reason throws InvalidCloseError (WHATWG: InvalidAccessError / SyntaxError DOMException)',
    lifeline: ['InvalidCloseError', 'InvalidCloseError'],
  },
  'abnormal closure: readyState as each event fires': {
    why: 'a close the client retries (1006 here) reads CONNECTING in its close event, as while it waits to reconnect (WHATWG: CLOSED for good)',
    lifeline: { code: 1006, wasClean: false, seen: [['close', 0]] },
  },
};

/** How long a case waits for an event that may never come (some cases wait it out when they pass). */
const TIMEOUT = 5000;
/**
 * How long an open may take: every case opens its sockets at once, and a browser lets one
 * handshake to a host be in progress at a time (RFC 6455 §4.1), so the last open waits for all
 * the others; on a loaded machine that took more than 5 s in Chromium. Every open that is awaited
 * does come when the machine is well, so this bounds only a hang.
 */
const OPEN_TIMEOUT = 30_000;

/** The next `type` event (or a timeout marker), so no case can hang. */
function next(socket: EventTarget, type: string): Promise<Event | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), type === 'open' ? OPEN_TIMEOUT : TIMEOUT);
    socket.addEventListener(
      type,
      (event) => {
        clearTimeout(timer);
        resolve(event);
      },
      { once: true },
    );
  });
}

/** The name of what `run` throws (and whether it is a DOMException where one exists), or 'none'. */
function thrown(run: () => unknown): string {
  try {
    run();
    return 'none';
  } catch (error) {
    const name = (error as Error).name;
    const dom = typeof DOMException === 'function' && error instanceof DOMException;
    return `${name}${dom ? ' (DOMException)' : ''}`;
  }
}

/** Opens a socket and waits for it to be open; closes it when `use` is done. */
async function opened<T>(subject: Subject, base: string, use: (socket: SocketUnderTest) => Promise<T> | T, protocols?: unknown): Promise<T | 'timeout'> {
  const socket = subject.make(base, protocols);
  try {
    if ((await next(socket, 'open')) === 'timeout') return 'timeout';
    return await use(socket);
  } finally {
    socket.close();
  }
}

/** Names each held connection (the server is started per suite, a page or a process of its own). */
let holds = 0;

/** Records the readyState as each of the socket's error and close events fires, in order. */
function watch(socket: SocketUnderTest): (string | number)[][] {
  const seen: (string | number)[][] = [];
  for (const type of ['error', 'close']) socket.addEventListener(type, () => seen.push([type, socket.readyState]));
  return seen;
}

/**
 * The readyState once it leaves OPEN without an event saying so (the server's close frame came),
 * read every 10 ms for at most TIMEOUT.
 */
async function leftOpen(socket: SocketUnderTest): Promise<number> {
  for (let i = 0; i < TIMEOUT / 10 && socket.readyState === 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return socket.readyState;
}

/** A case: `act` on an open socket, then the close's code and wasClean and the readyState as each event fired. */
function closedBy(act: (socket: SocketUnderTest) => void): Case['run'] {
  return (subject, base) =>
    opened(subject, base, async (socket) => {
      const seen = watch(socket);
      act(socket);
      const close = await next(socket, 'close');
      return close === 'timeout' ? close : { code: (close as CloseEvent).code, wasClean: (close as CloseEvent).wasClean, seen: [...seen] };
    });
}

function closeFields(event: Event | 'timeout'): unknown {
  if (event === 'timeout') return 'timeout';
  const close = event as Event & { code: number; reason: string; wasClean: boolean };
  return {
    type: close.type,
    code: close.code,
    reason: close.reason,
    wasClean: close.wasClean,
    isCloseEvent: typeof CloseEvent === 'function' ? close instanceof CloseEvent : 'no CloseEvent global',
  };
}

export const cases: readonly Case[] = [
  {
    name: 'constants',
    async run({ make, constructor }, base) {
      const socket = make(base);
      const names = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
      const onClass = names.map((n) => (constructor as Record<string, unknown>)[n]);
      const onInstance = names.map((n) => (socket as unknown as Record<string, unknown>)[n]);
      const write = thrown(() => {
        (socket as unknown as Record<string, unknown>).OPEN = 7;
      });
      const after = (socket as unknown as Record<string, unknown>).OPEN;
      socket.close();
      await next(socket, 'close');
      return { onClass, onInstance, write, after };
    },
  },
  { name: 'invalid URL throws', run: async ({ make }) => thrown(() => make('not a url')) },
  { name: 'bad scheme throws', run: async ({ make }) => thrown(() => make('ftp://127.0.0.1/')) },
  { name: 'fragment throws', run: async ({ make }, base) => thrown(() => make(`${base}/#part`)) },
  { name: 'duplicate subprotocols throw', run: async ({ make }, base) => thrown(() => make(base, ['chat', 'chat'])) },
  { name: 'invalid subprotocol throws', run: async ({ make }, base) => thrown(() => make(base, 'a b')) },
  {
    name: 'url is serialized, http maps to ws',
    async run({ make }, base) {
      const socket = make(base.replace(/^ws/, 'http'));
      const url = socket.url;
      socket.close();
      await next(socket, 'close');
      return url.replace(/:\d+\//, ':PORT/');
    },
  },
  {
    name: 'readyState through open and close',
    async run({ make }, base) {
      const socket = make(base);
      const seen: unknown[] = [socket.readyState];
      seen.push((await next(socket, 'open')) === 'timeout' ? 'timeout' : socket.readyState);
      socket.close(1000, 'done');
      seen.push(socket.readyState);
      const close = await next(socket, 'close');
      seen.push(socket.readyState, closeFields(close));
      return seen;
    },
  },
  {
    name: 'null protocols is the subprotocol "null"',
    run: (subject, base) => opened(subject, base, (socket) => socket.protocol, null),
  },
  {
    name: 'protocol kept after close',
    async run({ make }, base) {
      const socket = make(base, ['chat', 'superchat']);
      await next(socket, 'open');
      const open = socket.protocol;
      socket.close();
      await next(socket, 'close');
      return { open, closed: socket.protocol, extensions: socket.extensions };
    },
  },
  {
    name: 'text echo: MessageEvent with data and origin',
    run: (subject, base) =>
      opened(subject, base, async (socket) => {
        socket.send('hello');
        const event = await next(socket, 'message');
        if (event === 'timeout') return 'timeout';
        const message = event as MessageEvent;
        // By name: Node 20's undici dispatches its own MessageEvent class, not the global one.
        return { type: message.type, eventClass: message.constructor.name, data: message.data as unknown, origin: message.origin.replace(/:\d+$/, ':PORT') };
      }),
  },
  {
    name: 'binaryType default',
    run: (subject, base) => opened(subject, base, (socket) => socket.binaryType),
  },
  {
    name: 'binary echo as ArrayBuffer',
    run: (subject, base) =>
      opened(subject, base, async (socket) => {
        socket.binaryType = 'arraybuffer';
        socket.send(new Uint8Array([1, 2, 3]));
        const event = await next(socket, 'message');
        if (event === 'timeout') return 'timeout';
        const data = (event as MessageEvent).data as unknown;
        return { isArrayBuffer: data instanceof ArrayBuffer, bytes: data instanceof ArrayBuffer ? [...new Uint8Array(data)] : null };
      }),
  },
  {
    name: 'unknown binaryType ignored',
    run: (subject, base) =>
      opened(subject, base, (socket) => {
        socket.binaryType = 'arraybuffer';
        socket.binaryType = 'nodebuffer-or-anything';
        return socket.binaryType;
      }),
  },
  {
    name: 'non-callable handler',
    async run({ make }, base) {
      const socket = make(base);
      socket.onmessage = { handleEvent: () => undefined };
      socket.onopen = 'not a function';
      const read = [socket.onmessage, socket.onopen];
      const handler = () => undefined;
      socket.onclose = handler;
      const kept = socket.onclose === handler;
      socket.close();
      await next(socket, 'close');
      return { read, kept };
    },
  },
  {
    name: 'handler attribute and listener both hear open',
    async run({ make }, base) {
      const socket = make(base);
      const heard: string[] = [];
      socket.onopen = () => heard.push('attribute');
      socket.addEventListener('open', () => heard.push('listener'));
      await next(socket, 'open');
      socket.close();
      await next(socket, 'close');
      return heard.sort();
    },
  },
  {
    name: 'server closes with 1000',
    run: (subject, base) =>
      opened(subject, base, async (socket) => {
        socket.send('close:1000:server done');
        const close = await next(socket, 'close');
        return { close: closeFields(close), readyState: socket.readyState };
      }),
  },
  {
    name: 'client close with code and reason',
    run: (subject, base) =>
      opened(subject, base, async (socket) => {
        socket.close(4321, 'client done');
        return { readyState: socket.readyState, close: closeFields(await next(socket, 'close')), after: socket.readyState };
      }),
  },
  {
    // WHATWG: a reason given without a code closes with 1000.
    name: 'client close with a reason and no code',
    run: (subject, base) => opened(subject, base, async (socket) => (socket.close(undefined, 'client done'), closeFields(await next(socket, 'close')))),
  },
  {
    // WHATWG converts the reason to a string (a USVString): null is "null".
    name: 'client close with a null reason',
    run: (subject, base) => opened(subject, base, async (socket) => (socket.close(1000, null as unknown as string), closeFields(await next(socket, 'close')))),
  },
  {
    name: 'close twice is a no-op',
    run: (subject, base) =>
      opened(subject, base, async (socket) => {
        socket.close();
        socket.close();
        const close = closeFields(await next(socket, 'close'));
        socket.close();
        return { close, readyState: socket.readyState };
      }),
  },
  {
    name: 'send after close does not throw',
    run: (subject, base) =>
      opened(subject, base, async (socket) => {
        socket.close();
        await next(socket, 'close');
        return thrown(() => socket.send('late'));
      }),
  },
  {
    name: 'bufferedAmount when open and idle',
    run: (subject, base) => opened(subject, base, (socket) => socket.bufferedAmount),
  },
  {
    name: 'send while connecting',
    async run({ make }, base) {
      const socket = make(base);
      const result = thrown(() => socket.send('early'));
      socket.close();
      await next(socket, 'close');
      return result;
    },
  },
  {
    // Whether each call throws, on a socket of its own: null (WHATWG: ToNumber 0, refused), a
    // numeric string and a fraction (WHATWG: converted to 1000).
    name: 'close code conversions',
    async run(subject, base) {
      const calls = [null, '1000', 1000.4] as unknown as number[];
      const results: unknown[] = [];
      for (const code of calls) results.push(await opened(subject, base, (socket) => thrown(() => socket.close(code)) !== 'none'));
      return results;
    },
  },
  {
    name: 'close arguments checked',
    run: (subject, base) => opened(subject, base, (socket) => [thrown(() => socket.close(999)), thrown(() => socket.close(1000, 'x'.repeat(124)))]),
  },
  {
    name: 'close while connecting',
    async run({ make }, base) {
      const socket = make(base);
      const events: string[] = [];
      socket.addEventListener('error', () => events.push('error'));
      socket.close(1000);
      const readyState = socket.readyState;
      const close = await next(socket, 'close');
      return { readyState, events, close: closeFields(close) };
    },
  },
  {
    // WHATWG: CLOSING from the close frame on ("the WebSocket closing handshake is started") until
    // the TCP connection ends; send() then throws nothing and adds the data to bufferedAmount.
    name: 'server close frame, TCP held open: the closing handshake',
    async run({ make }, base) {
      const socket = make(base);
      if ((await next(socket, 'open')) === 'timeout') return 'timeout';
      const seen = watch(socket);
      let closed: Event | undefined;
      socket.addEventListener('close', (event) => (closed = event));
      const key = `${++holds}`;
      socket.send(`hold:${key}`);
      const readyState = await leftOpen(socket);
      const before = socket.bufferedAmount;
      const send = thrown(() => socket.send('late'));
      const grown = socket.bufferedAmount - before;
      // The release comes on another connection: this one can send nothing more.
      const releaser = make(base);
      if ((await next(releaser, 'open')) !== 'timeout') releaser.send(`release:${key}`);
      const event = closed ?? (await next(socket, 'close'));
      releaser.close();
      return { readyState, send, grown, seen: [...seen], close: closeFields(event), after: socket.readyState, grownAfter: socket.bufferedAmount - before };
    },
  },
  {
    // WHATWG: send() while CLOSING or CLOSED throws nothing and adds the data to bufferedAmount.
    name: 'send while closing and after close',
    run: (subject, base) =>
      opened(subject, base, async (socket) => {
        socket.close();
        const before = socket.bufferedAmount;
        const closing = thrown(() => socket.send('late'));
        const grown = socket.bufferedAmount - before;
        const close = await next(socket, 'close');
        const closed = thrown(() => socket.send('later'));
        return { closing, grown, close: close === 'timeout' ? close : 'close', closed, total: socket.bufferedAmount - before };
      }),
  },
  {
    // WHATWG: CLOSED, then error, then close.
    name: 'close while connecting: readyState as each event fires',
    async run({ make }, base) {
      const socket = make(base);
      const seen = watch(socket);
      socket.close();
      await next(socket, 'close');
      return [...seen];
    },
  },
  { name: 'client close while open: readyState as each event fires', run: closedBy((socket) => socket.close(4000, 'bye')) },
  { name: 'server close: readyState as each event fires', run: closedBy((socket) => socket.send('close:1000:bye')) },
  // The TCP connection ends with no close frame: 1006, not clean.
  { name: 'abnormal closure: readyState as each event fires', run: closedBy((socket) => socket.send('drop')) },
];
