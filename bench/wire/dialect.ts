// How a lean client speaks to each stack: where to connect, the application's opening (Lifeline's
// hello/welcome, Socket.IO's open and namespace connect), joining the fan-out channel, and how
// to recognise a data message by its first bytes without parsing it.
import { clientText, startsWith } from './frame.js';
import { LeanSocket } from './lean-socket.js';

/** The servers compared. */
export type Stack = 'lifeline' | 'ws' | 'socketio' | 'floor';

export const PROTOCOL = 'lifeline.v1';

/** The channel (room) every fan-out subscriber joins. */
export const FANOUT_CHANNEL = 'bench:x';

export interface Dialect {
  readonly path: string;
  /** Lifeline clients of the channel protocol offer `lifeline.v1`; plain connections offer nothing. */
  readonly protocol?: string;
  readonly autoReply?: (payload: Buffer) => Buffer | undefined;
  /** The application-level opening after the upgrade. */
  open(socket: LeanSocket, timeoutMs: number): Promise<void>;
  /** Joins a channel (or room); resolves once the server confirmed it. Stacks without channels join on connect. */
  join(socket: LeanSocket, channel: string, timeoutMs: number): Promise<void>;
  /**
   * The opening and a join in one round trip, where the protocol lets the join follow the
   * opening without waiting for its answer (Lifeline: subscribe right behind hello, as its
   * client sends them); resolves once the join is confirmed.
   */
  openJoin?(socket: LeanSocket, channel: string, timeoutMs: number): Promise<void>;
  /** The text of an echo request. */
  echo(body: string): string;
  /** Prefixes of a fan-out event and of an echo reply. */
  readonly eventPrefix: Buffer;
  readonly echoPrefix: Buffer;
}

const jsonEvent = Buffer.from('{"type":"event"');
const jsonEcho = Buffer.from('{"type":"echo"');

/** The hello and the subscribe behind it, framed once per channel and sent in one write (LifelineClient sends them in one turn). */
const openings = new Map<string, Buffer>();

function lifelineOpening(channel: string): Buffer {
  let frames = openings.get(channel);
  if (!frames) {
    frames = Buffer.concat([clientText('{"type":"hello","v":1}'), clientText(JSON.stringify({ type: 'subscribe', id: 1, channel }))]);
    openings.set(channel, frames);
  }
  return frames;
}

/** Lifeline's channel protocol (docs/protocol.md): hello -> welcome, subscribe -> subscribed. */
const lifeline: Dialect = {
  path: '/ws',
  protocol: PROTOCOL,
  async open(socket, timeoutMs) {
    socket.sendText('{"type":"hello","v":1}');
    await socket.next((text) => text.startsWith('{"type":"welcome"'), timeoutMs);
  },
  async join(socket, channel, timeoutMs) {
    socket.sendText(JSON.stringify({ type: 'subscribe', id: 1, channel }));
    await socket.next((text) => text.startsWith('{"type":"subscribed"'), timeoutMs);
  },
  async openJoin(socket, channel, timeoutMs) {
    socket.write(lifelineOpening(channel));
    await socket.next((text) => text.startsWith('{"type":"subscribed"'), timeoutMs);
  },
  echo: (body) => JSON.stringify({ type: 'echo', body }),
  eventPrefix: jsonEvent,
  echoPrefix: jsonEcho,
};

/** A Lifeline connection without the channel protocol: the server's `message` event, as for echo. */
const lifelinePlain: Dialect = { ...lifeline, protocol: undefined, open: async () => undefined, join: async () => undefined, openJoin: undefined };

/** raw `ws` and the floor: the server adds every connection to its set; messages are JSON. */
const plain: Dialect = {
  path: '/ws',
  open: async () => undefined,
  join: async () => undefined,
  echo: (body) => JSON.stringify({ type: 'echo', body }),
  eventPrefix: jsonEvent,
  echoPrefix: jsonEcho,
};

const PING = Buffer.from('2');
const PONG = clientText('3');

/**
 * Socket.IO 4 over its websocket transport: Engine.IO packets (`0` open, `2`/`3` ping/pong,
 * `4` message) carrying Socket.IO packets (`0` connect, `2` event, `3` ack), so an event is
 * `42["name",data]` and an acknowledged one `42<id>["name",...]`, answered by `43<id>[...]`.
 */
const socketio: Dialect = {
  path: '/socket.io/?EIO=4&transport=websocket',
  autoReply: (payload) => (payload.length === 1 && startsWith(payload, PING) ? PONG : undefined),
  async open(socket, timeoutMs) {
    await socket.next((text) => text.startsWith('0{'), timeoutMs);
    socket.sendText('40');
    await socket.next((text) => text.startsWith('40'), timeoutMs);
  },
  async join(socket, channel, timeoutMs) {
    socket.sendText(`421${JSON.stringify(['join', channel])}`);
    await socket.next((text) => text.startsWith('431'), timeoutMs);
  },
  echo: (body) => `42${JSON.stringify(['echo', { type: 'echo', body }])}`,
  eventPrefix: Buffer.from('42["event"'),
  echoPrefix: Buffer.from('42["echo"'),
};

export function dialectOf(stack: Stack, channels = true): Dialect {
  switch (stack) {
    case 'lifeline':
      return channels ? lifeline : lifelinePlain;
    case 'socketio':
      return socketio;
    case 'ws':
    case 'floor':
      return plain;
  }
}

/** Connects and opens one lean client of `stack`; with `join`, joins that channel too (in the opening's round trip where the protocol allows). */
export async function openLean(stack: Stack, port: number, options: { readonly channels?: boolean; readonly localAddress?: string; readonly timeoutMs: number; readonly join?: string }): Promise<LeanSocket> {
  const dialect = dialectOf(stack, options.channels);
  const socket = await LeanSocket.connect({
    host: '127.0.0.1',
    port,
    path: dialect.path,
    protocol: dialect.protocol,
    localAddress: options.localAddress,
    timeoutMs: options.timeoutMs,
    autoReply: dialect.autoReply,
  });
  try {
    const { join, timeoutMs } = options;
    if (join !== undefined && dialect.openJoin) await dialect.openJoin(socket, join, timeoutMs);
    else {
      await dialect.open(socket, timeoutMs);
      if (join !== undefined) await dialect.join(socket, join, timeoutMs);
    }
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
}
