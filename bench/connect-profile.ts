// What one connection costs the server to set up, finer than the `connect` scenario: a server
// (the benchmark's, bundled for plain `node`, as the scenario runs it) takes `--warm` connections,
// then `--count` more are measured, 50 in flight, each up and in a channel (Lifeline: hello with
// the subscribe right behind it, complete at `subscribed`; ws: the 101), all kept open. The
// clients run in another process. Per round it prints the server's CPU time per connection and,
// with `--mode alloc`, the bytes it allocates per connection, dead or alive (V8's sampling heap
// profiler, every 256 B on average, objects already collected included); `--mode prof` writes a
// CPU profile of the measured connections (100 µs sampling) to bench/results/profiles/ and prints
// where the time goes, by function.
//
//   node --import tsx bench/connect-profile.ts [--stack lifeline|ws] [--src DIR] [--mode cpu|alloc|prof]
//                                              [--count 3000] [--warm 500] [--concurrency 50] [--rounds 1]
import { fork } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceTree } from './build.js';
import { ask, option, printRound, reply, serverRole, type Measured, type Mode } from './profile-kit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const role = process.argv[2];
if (role === '--server') await serverRole(process.argv[3] ?? 'lifeline');
else if (role === '--client') clientRole(process.argv[3] ?? 'lifeline', Number(process.argv[4]));
else await main();

async function main(): Promise<void> {
  const stack = option('--stack', 'lifeline');
  const src = process.argv.includes('--src') ? option('--src', '') : undefined;
  const mode = option('--mode', 'cpu') as Mode;
  const count = Number(option('--count', '3000'));
  const warm = Number(option('--warm', '500'));
  const concurrency = Number(option('--concurrency', '50'));
  const rounds = Number(option('--rounds', '1'));
  const outdir = join(root, 'bench/.build', `connect-profile-${process.pid}`);
  mkdirSync(outdir, { recursive: true });
  process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
  const bundle = join(outdir, 'connect-profile.js');
  const plugins = src === undefined ? [] : [sourceTree(src)];
  await build({ entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: bundle, logLevel: 'error', plugins });
  console.log(`${stack}${src === undefined ? '' : ` from ${src}`}: ${count} connections after ${warm}, ${concurrency} in flight`);
  for (let round = 1; round <= rounds; round++) {
    const server = fork(bundle, ['--server', stack], { execArgv: [] });
    try {
      const port = (await reply<{ port: number }>(server)).port;
      const client = fork(fileURLToPath(import.meta.url), ['--client', stack, String(port)], { execArgv: ['--import', 'tsx'] });
      try {
        await reply(client);
        if (warm > 0) await ask(client, { count: warm, concurrency });
        await new Promise((done) => setTimeout(done, 200));
        await ask(server, { cmd: 'start', mode });
        const { ms } = await ask<{ ms: number }>(client, { count, concurrency });
        const measured = await ask<Measured>(server, { cmd: 'stop', mode, file: join(root, 'bench/results/profiles', `connect-${stack}-${process.pid}-${round}.cpuprofile`) });
        const parts = [`round ${round}: server CPU ${(measured.cpuUs / count).toFixed(0)} µs per connection`, `${((count * 1000) / ms).toFixed(0)} connections/s`];
        await printRound(parts, measured, count, 'connection');
      } finally {
        client.kill();
      }
    } finally {
      server.kill();
    }
  }
}

/** The clients: `count` more connections on command, `concurrency` in flight, kept open. */
function clientRole(stack: string, port: number): void {
  const sockets: unknown[] = [];
  process.on('message', (message: { readonly count: number; readonly concurrency: number }) => {
    void (async () => {
      const { openLean } = await import('./wire/dialect.js');
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: message.concurrency }, async () => {
          while (next < message.count) {
            next++;
            sockets.push(await openLean(stack === 'ws' ? 'ws' : 'lifeline', port, { timeoutMs: 15_000, join: 'bench:connect' }));
          }
        }),
      );
      process.send?.({ ms: performance.now() - started });
    })();
  });
  process.send?.({});
}
