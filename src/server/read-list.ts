import type { WebSocket } from 'ws';

/** What of ws's receiver (ws 8, `lib/receiver.js`) {@link releaseReadList} touches: its list of chunks read and not yet parsed. */
interface ReadList {
  _buffers?: unknown;
}

/**
 * Gives ws's receiver a new, empty list of chunks when it has parsed everything it was given
 * (true), else changes nothing (false).
 * ws pushes each chunk read from the socket onto one array and shifts it off once parsed; V8
 * grows an array's store to 17 slots at its first push and never shrinks it by shifting, so
 * every socket that ever received a frame keeps 152 bytes of empty store for as long as it is
 * open (an idle session received its hello and subscribe, and a pong every ping interval). An
 * empty list holds none until the next chunk. Only an empty list is replaced, so nothing unparsed
 * is lost; anything else (another ws, a receiver without the list) is left as it is.
 */
export function releaseReadList(socket: WebSocket): boolean {
  const receiver = (socket as unknown as { _receiver?: ReadList })._receiver;
  const list = receiver?._buffers;
  if (!Array.isArray(list) || list.length > 0) return false;
  (receiver as ReadList)._buffers = [];
  return true;
}
