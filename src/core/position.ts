/**
 * Where an event sits in its channel: the epoch names one unbroken history, the offset counts
 * events in it from 1. `{epoch, offset: 0}` is the position of an empty channel.
 */
export interface Position {
  readonly epoch: string;
  readonly offset: number;
}

/** Is `event` new to a holder of `last`? Same epoch and a higher offset; a new epoch is never "new" by itself. */
export function isAfter(event: Position, last: Position | undefined): boolean {
  if (last === undefined) return true;
  return event.epoch === last.epoch && event.offset > last.offset;
}

/** Can a history that keeps offsets `first..head` (in `epoch`) serve everything after `since`? */
export function canRecover(since: Position, epoch: string, first: number, head: number): boolean {
  if (since.epoch !== epoch) return false;
  if (since.offset > head) return false; // the holder is ahead of history: it was lost
  return since.offset >= first - 1;
}
