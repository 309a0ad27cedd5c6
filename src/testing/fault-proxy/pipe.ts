import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { Timer } from '../../core/timer.js';
import type { ResolvedMode } from './mode.js';

/**
 * A throttled write carries this many ms worth of bytes, so a throttled link moves in small
 * steady steps (64 kB/s: 640 bytes every 10 ms) instead of one burst per second.
 */
const BANDWIDTH_STEP_MS = 10;

/** What a pipe reports to the link that owns it. */
export interface PipeHost {
  readonly clock: Clock;
  /** Past this many queued bytes the source is paused until the queue drains below it. */
  readonly maxQueuedBytes: number;
  /** `bytes` were written to the sink. */
  forwarded(pipe: Pipe, bytes: number): void;
  /** A blackhole swallowed `bytes` (0: an end of stream). */
  swallowed(pipe: Pipe, bytes: number): void;
}

interface Queued {
  chunk: Buffer;
  /** Clock time the chunk arrived; it is due at `at + delay`, so a new delay applies at once. */
  readonly at: number;
}

/**
 * One direction of a link: reads the source, writes the sink, in order, under the current
 * mode. Every chunk passes through one FIFO queue; the pump writes the head once it is due
 * (delay), once the link is free (bandwidth), a slice at a time (slice), and stops while the
 * sink is full. The source is paused while the sink waits for 'drain' or the queue holds
 * `maxQueuedBytes`, so memory stays bounded whatever the mode: the sender then feels TCP
 * backpressure, as it would behind a slow link.
 */
export class Pipe {
  #mode: ResolvedMode;
  readonly #queue: Queued[] = [];
  #queuedBytes = 0;
  #forwarded = 0;
  #sourceEnded = false;
  #endSent = false;
  #awaitingDrain = false;
  #sourcePaused = false;
  #stopped = false;
  /** Bandwidth: clock time the link is free to carry the next step. */
  #freeAt = 0;
  #turn: NodeJS.Immediate | undefined;
  readonly #timer: Timer;

  constructor(
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly host: PipeHost,
    mode: ResolvedMode,
  ) {
    this.#mode = mode;
    this.#timer = new Timer(host.clock, () => this.#pump());
  }

  /** Bytes written to the sink so far. */
  get forwarded(): number {
    return this.#forwarded;
  }

  /** Bytes read from the source and not yet written to the sink. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  readonly onData = (chunk: Buffer): void => {
    if (this.#stopped) return;
    if (this.#mode.blackhole) {
      this.host.swallowed(this, chunk.length);
      return;
    }
    this.#queue.push({ chunk, at: this.host.clock.now() });
    this.#queuedBytes += chunk.length;
    this.#pump();
  };

  readonly onEnd = (): void => {
    this.#sourceEnded = true;
    if (this.#mode.blackhole) this.host.swallowed(this, 0);
    else this.#pump();
  };

  readonly onDrain = (): void => {
    if (!this.#awaitingDrain) return;
    this.#awaitingDrain = false;
    this.#pump();
  };

  readonly #onTurn = (): void => {
    this.#turn = undefined;
    this.#pump();
  };

  /** Applies a new mode to what is queued and what comes next; a blackhole drops the queue. */
  setMode(mode: ResolvedMode): void {
    this.#mode = mode;
    this.#cancelWakeups();
    if (mode.blackhole) {
      const lost = this.#queuedBytes;
      this.#clearQueue();
      if (lost > 0) this.host.swallowed(this, lost);
      if (this.#sourceEnded && !this.#endSent) this.host.swallowed(this, 0);
    }
    this.#pump();
  }

  /** The sink is gone or the link is torn down: drop everything, cancel every wake-up. */
  stop(): void {
    this.#stopped = true;
    this.#cancelWakeups();
    this.#clearQueue();
    this.#flow();
  }

  #pump(): void {
    if (this.#stopped || this.#mode.blackhole) {
      this.#flow();
      return;
    }
    const { delay, slice, bandwidth } = this.#mode;
    while (this.#queue.length > 0 && !this.#awaitingDrain && this.#turn === undefined) {
      const head = this.#queue[0] as Queued;
      const now = this.host.clock.now();
      const wait = Math.max(head.at + delay - now, bandwidth < Infinity ? this.#freeAt - now : 0);
      if (wait > 0) {
        this.#timer.start(wait);
        break;
      }
      const step = bandwidth < Infinity ? Math.max(1, Math.floor((bandwidth * BANDWIDTH_STEP_MS) / 1000)) : Infinity;
      const size = Math.min(head.chunk.length, slice, step);
      if (bandwidth < Infinity) this.#freeAt = Math.max(this.#freeAt, now) + (size * 1000) / bandwidth;
      const piece = size === head.chunk.length ? head.chunk : head.chunk.subarray(0, size);
      if (piece === head.chunk) this.#queue.shift();
      else head.chunk = head.chunk.subarray(size);
      this.#queuedBytes -= size;
      this.#write(piece);
      // Each slice goes out in its own write on a later turn, so the peer reads it on its own.
      if (slice < Infinity && this.#queue.length > 0) this.#turn = setImmediate(this.#onTurn);
    }
    if (this.#queue.length === 0 && this.#sourceEnded && !this.#endSent) {
      this.#endSent = true;
      if (this.sink.writable) this.sink.end();
    }
    this.#flow();
  }

  #write(piece: Buffer): void {
    if (!this.sink.writable) return; // the link is closing; its close handler tidies up
    this.#forwarded += piece.length;
    this.host.forwarded(this, piece.length);
    if (!this.sink.write(piece)) this.#awaitingDrain = true;
  }

  /** Pauses the source while the sink is full or the queue at its limit; resumes it after. */
  #flow(): void {
    const hold = !this.#stopped && !this.#mode.blackhole && (this.#awaitingDrain || this.#queuedBytes >= this.host.maxQueuedBytes);
    if (hold === this.#sourcePaused || this.source.destroyed) return;
    this.#sourcePaused = hold;
    if (hold) this.source.pause();
    else this.source.resume();
  }

  #cancelWakeups(): void {
    this.#timer.stop();
    if (this.#turn !== undefined) clearImmediate(this.#turn);
    this.#turn = undefined;
  }

  #clearQueue(): void {
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }
}
