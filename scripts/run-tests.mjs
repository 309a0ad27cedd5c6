// Runs the suite with node's own test runner: builds first (the CLI and package tests use dist/),
// then every test/**/*.test.ts through tsx. `--bench` runs test/**/*.bench.ts instead (the
// benchmark smoke test: its own CI step with its own budget). Extra args are passed to node
// (e.g. `npm test -- --test-name-pattern=backoff`); files given as args narrow the run.
//
// Every process the run starts carries LIFELINE_TEST_RUN=<id> in its environment. When the runner
// is done, any process still alive with that mark was left behind by a test: it is listed, killed,
// and the run fails.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function find(dir, suffix) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path, suffix);
    return name.endsWith(suffix) ? [path] : [];
  });
}

const args = process.argv.slice(2);
const bench = args.includes('--bench');
const isFile = (a) => a.endsWith('.test.ts') || a.endsWith('.bench.ts');
const chosen = args.filter(isFile);
const flags = args.filter((a) => !isFile(a) && a !== '--bench');
const files = (chosen.length > 0 ? chosen : find(join(root, 'test'), bench ? '.bench.ts' : '.test.ts')).map((f) => relative(root, f)).sort();
// Per test, and per file as a whole: generous caps for a busy machine, not expected durations.
const timeout = 600_000;

/** Runs node with `argv`; resolves with its exit code. Signals to this script are passed on. */
function run(argv, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: 'inherit', cwd: root, env });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.once('close', (code, signal) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** Pids of live processes (not zombies) whose environment holds `mark`. */
function marked(mark) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (/\) Z /.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(mark)) continue;
      found.push({ pid: Number(entry), command: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 200) });
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  return found;
}

/** Waits up to 5 s for marked processes to end by themselves; kills and reports the rest. */
async function leftovers(mark) {
  if (process.platform !== 'linux') return [];
  for (let i = 0; i < 50 && marked(mark).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const left = marked(mark);
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return left;
}

const build = await run([join(root, 'scripts/build.mjs')], process.env);
if (build !== 0) process.exit(build);

const mark = `LIFELINE_TEST_RUN=${randomUUID()}`;
const status = await run(
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeout}`, ...flags, ...files],
  { ...process.env, LIFELINE_TEST_RUN: mark.slice('LIFELINE_TEST_RUN='.length) },
);
const left = await leftovers(mark);
if (left.length > 0) {
  console.error(`# ${left.length} processes started by the tests were still running at the end (now killed):`);
  for (const { pid, command } of left) console.error(`#   ${pid}: ${command}`);
  process.exit(status === 0 ? 1 : status);
}
process.exit(status);
