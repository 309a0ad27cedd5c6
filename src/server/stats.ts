/**
 * Counters a server keeps about itself, read by metrics exporters and the admin page.
 * Plain numbers and maps: incrementing one is the whole cost on the hot path.
 */
export class ServerStats {
  /** Handshakes by outcome: 101 for accepted, otherwise the HTTP status of the refusal. */
  readonly handshakes = new Map<number, number>();
  /** Closes by reported close code. */
  readonly closes = new Map<number, number>();
  heartbeatTerminations = 0;
  slowConsumerCloses = 0;
  invalidMessages = 0;
  messagesIn = 0;
  bytesIn = 0;

  countHandshake(status: number): void {
    this.handshakes.set(status, (this.handshakes.get(status) ?? 0) + 1);
  }

  countClose(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }
}
