// The child side of the harness's IPC: commands in, one reply per command out. A child whose
// parent is gone (IPC disconnected) exits at once, so no benchmark process outlives a run.

export interface Command {
  readonly id: number;
  readonly cmd: string;
  readonly args: Record<string, unknown>;
}

export type Reply = { readonly id: number; readonly ok: true; readonly value: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

export type Handlers = Readonly<Record<string, (args: Record<string, unknown>) => unknown>>;

function isCommand(value: unknown): value is Command {
  if (typeof value !== 'object' || value === null) return false;
  const { id, cmd, args } = value as Record<string, unknown>;
  return typeof id === 'number' && typeof cmd === 'string' && typeof args === 'object' && args !== null;
}

/** Serves `handlers` over the IPC channel, then tells the parent it is ready. */
export function serve(handlers: Handlers): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('a benchmark child must be started with an IPC channel');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: unknown) => {
    if (!isCommand(message)) return;
    const handler = handlers[message.cmd];
    const reply = (r: Reply): void => {
      if (process.connected) send(r);
    };
    if (!handler) return reply({ id: message.id, ok: false, error: `unknown command "${message.cmd}"` });
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (value) => reply({ id: message.id, ok: true, value: value ?? null }),
        (error: unknown) => reply({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  send({ ready: true });
}

/** Milliseconds on CLOCK_MONOTONIC, which every process on the machine shares: times taken in different processes compare. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** This process's CPU time and memory, for the parent's per-run accounting. */
export function usage(): { readonly cpuMs: number; readonly rss: number; readonly heapUsed: number } {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { cpuMs: (cpu.user + cpu.system) / 1000, rss: memory.rss, heapUsed: memory.heapUsed };
}

export function numberArg(args: Record<string, unknown>, name: string): number {
  const value = args[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`argument "${name}" must be a number`);
  return value;
}

export function stringArg(args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string') throw new Error(`argument "${name}" must be a string`);
  return value;
}

export function optionalString(args: Record<string, unknown>, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' ? value : undefined;
}

export function optionalNumber(args: Record<string, unknown>, name: string): number | undefined {
  const value = args[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
