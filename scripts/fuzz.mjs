// `npm run fuzz`: the live-server fuzz properties (test/fuzz/live-server.test.ts) with far more
// runs than the suite gives them. `npm run fuzz -- --runs 5000 --ms 600000` sets the runs per
// property (default 1000) and each property's time budget in ms (default 300000); other args go
// to run-tests.mjs (e.g. --test-name-pattern=frames). The settings reach the test as
// LIFELINE_FUZZ_RUNS and LIFELINE_FUZZ_MS, set here rather than by a shell, so the command is the
// same on every platform.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const settings = { runs: '1000', ms: '300000' };
const rest = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const match = /^--(runs|ms)(?:=(.*))?$/.exec(args[i]);
  if (!match) {
    rest.push(args[i]);
    continue;
  }
  const value = match[2] ?? args[++i];
  if (value === undefined || !/^[1-9]\d*$/.test(value)) {
    console.error(`fuzz: --${match[1]} wants a positive integer (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
    console.error('usage: npm run fuzz -- [--runs N] [--ms N] [run-tests args]');
    process.exit(2);
  }
  settings[match[1]] = value;
}

console.log(`fuzz: ${settings.runs} runs per property, at most ${settings.ms} ms each`);
const child = spawn(process.execPath, [fileURLToPath(new URL('./run-tests.mjs', import.meta.url)), 'test/fuzz/live-server.test.ts', ...rest], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, LIFELINE_FUZZ_RUNS: settings.runs, LIFELINE_FUZZ_MS: settings.ms },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.once('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
