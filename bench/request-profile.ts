// What a reply to a publish (or a request) costs the server, finer than the `request` scenario's
// replies per second (which follow what else runs on the machine): the benchmark's server
// (bundled, plain `node`) answers `--clients` connections with `--inflight` messages each always
// outstanding, as the scenario's loaded call does; `--warm` replies first, then `--count` are
// measured. Per round it prints the server's CPU time per reply, the replies per second and the
// round trips' p50 and max; `--mode alloc` adds the bytes allocated per reply, `--mode prof`
// writes a CPU profile of the measured replies to bench/results/profiles/ and prints where the
// time went, by function. `--src A,B` alternates trees round by round (an A/B in one run).
//
//   node --import tsx bench/request-profile.ts [--kind publish|request|ws] [--src DIR[,DIR]]
//        [--mode cpu|alloc|prof] [--count 200000] [--warm 50000] [--clients 100] [--inflight 10] [--rounds 1]
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceTree } from './build.js';
import { ask, option, printRound, reply, serverRole, type Measured, type Mode } from './profile-kit.js';
import type { RequestKind } from './children/request-client.js';

interface RunResult {
  readonly ms: number;
  readonly p50Us: number;
  readonly maxUs: number;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const role = process.argv[2];
if (role === '--server') await serverRole(process.argv[3] ?? 'lifeline');
else if (role === '--client') await clientRole(process.argv[3] as RequestKind, Number(process.argv[4]));
else await main();

async function main(): Promise<void> {
  const kind = option('--kind', 'publish') as RequestKind;
  const stack = kind === 'ws' ? 'ws' : 'lifeline';
  const trees = process.argv.includes('--src') ? option('--src', '').split(',') : [undefined];
  const mode = option('--mode', 'cpu') as Mode;
  const count = Number(option('--count', '200000'));
  const warm = Number(option('--warm', '50000'));
  const clients = Number(option('--clients', '100'));
  const inflight = Number(option('--inflight', '10'));
  const rounds = Number(option('--rounds', '1'));
  const outdir = join(root, 'bench/.build', `request-profile-${process.pid}`);
  process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
  const bundles: string[] = [];
  for (const [at, src] of trees.entries()) {
    const bundle = join(outdir, `request-profile-${at}.js`);
    const plugins = src === undefined ? [] : [sourceTree(src)];
    await build({ entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: bundle, logLevel: 'error', plugins });
    bundles.push(bundle);
  }
  console.log(`${kind}: ${count} replies after ${warm}, ${clients} clients x ${inflight} in flight`);
  for (let round = 1; round <= rounds; round++) {
    for (const [at, bundle] of bundles.entries()) {
      const tree = trees[at] ?? 'src';
      const server = fork(bundle, ['--server', stack], { execArgv: [] });
      try {
        const port = (await reply<{ port: number }>(server)).port;
        const client = fork(bundle, ['--client', kind, String(port)], { execArgv: [] });
        try {
          await reply(client);
          await ask(client, { count: warm, clients, inflight });
          await ask(server, { cmd: 'start', mode });
          const run = await ask<RunResult>(client, { count, clients, inflight });
          const file = join(root, 'bench/results/profiles', `request-${kind}-${process.pid}-${round}-${at}.cpuprofile`);
          const measured = await ask<Measured>(server, { cmd: 'stop', mode, file });
          const parts = [
            `round ${round} ${tree}: server CPU ${(measured.cpuUs / count).toFixed(2)} µs per reply`,
            `${((count * 1000) / run.ms).toFixed(0)} replies/s`,
            `round trip p50 ${(run.p50Us / 1000).toFixed(1)} ms, max ${(run.maxUs / 1000).toFixed(1)} ms`,
          ];
          await printRound(parts, measured, count, 'reply');
        } finally {
          client.kill();
        }
      } finally {
        server.kill();
      }
    }
  }
}

/**
 * The clients: on each command, `count` replies from `clients` connections (opened at the first
 * command) with `inflight` messages each outstanding; answers once every reply is in.
 */
async function clientRole(kind: RequestKind, port: number): Promise<void> {
  const { openLean } = await import('./wire/dialect.js');
  const { Opcode, startsWith } = await import('./wire/frame.js');
  const { requestDialect } = await import('./children/request-client.js');
  const dialect = requestDialect(kind);
  const body = 'x'.repeat(64);
  const sockets: Awaited<ReturnType<typeof openLean>>[] = [];
  /** Each connection's last id: ids go on increasing from one command to the next (a session's window). */
  const ids: number[] = [];
  process.on('message', (message: { readonly count: number; readonly clients: number; readonly inflight: number }) => {
    void (async () => {
      while (sockets.length < message.clients) {
        sockets.push(await openLean(dialect.stack, port, { channels: dialect.channels, timeoutMs: 10_000 }));
        ids.push(0);
      }
      const times: number[] = [];
      let sent = 0;
      const started = performance.now();
      await Promise.all(
        sockets.map(
          (socket, at) =>
            new Promise<void>((done) => {
              const sentAt: number[] = [];
              const send = (): void => {
                sent++;
                sentAt.push(performance.now());
                ids[at] = (ids[at] ?? 0) + 1;
                socket.write(dialect.frame(ids[at], body));
              };
              socket.listen((opcode, payload) => {
                if (opcode !== Opcode.TEXT || !startsWith(payload, dialect.replyPrefix)) return;
                times.push(performance.now() - (sentAt.shift() ?? 0));
                if (sent < message.count) send();
                else if (sentAt.length === 0) done();
              });
              for (let i = 0; i < message.inflight && sent < message.count; i++) send();
              if (sentAt.length === 0) done();
            }),
        ),
      );
      const ms = performance.now() - started;
      times.sort((a, b) => a - b);
      process.send?.({ ms, p50Us: 1000 * (times[Math.floor(times.length / 2)] ?? NaN), maxUs: 1000 * (times.at(-1) ?? NaN) });
    })();
  });
  process.send?.({});
}
