// Runs the suite with node's own test runner: builds first (the CLI and package tests use dist/),
// then every test/**/*.test.ts through tsx. `--bench` runs test/**/*.bench.ts instead (the
// benchmark smoke test: its own CI step with its own budget). Extra args are passed to node
// (e.g. `npm test -- --test-name-pattern=backoff`); files given as args narrow the run.
//
// Files run twice as many at a time as there are cores (each in its own process), the slowest
// first: many of them mostly wait (for a browser, a Redis Cluster, a child process, a timeout), so
// more run side by side than there are cores, and starting the long ones first keeps one long file
// from ending the run alone.
// Each file's wall time is kept in node_modules/.cache/lifeline/test-durations.json for that
// order, and the slowest are listed at the end. `--test-concurrency=N` (a node flag) overrides.
//
// Every process the run starts carries LIFELINE_TEST_RUN=<id> in its environment. When the runner
// is done, any process still alive with that mark was left behind by a test: it is listed, killed,
// and the run fails.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
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
// Per test, and per file as a whole: generous caps for a busy machine, not expected durations.
const timeout = 600_000;
// Twice the cores (4 on a 2-core machine), at most 8: most files spend their time waiting.
const CONCURRENCY = Math.min(8, 2 * availableParallelism());

const cacheFile = join(root, 'node_modules/.cache/lifeline/test-durations.json');
/** Wall time of each file (path relative to the root) in its last run, ms. */
function readDurations() {
  try {
    return JSON.parse(readFileSync(cacheFile, 'utf8'));
  } catch {
    return {};
  }
}
const known = readDurations();
// Before any run has been timed: the folders known to hold the long files.
const guess = (file) => (/^test\/(package|cluster|chaos|browser|conformance)\/|^test\/broker\/redis-cluster|^test\/cli\//.test(file) ? 10_000 : 1_000);
const expected = (file) => known[file] ?? guess(file);
const files = (chosen.length > 0 ? chosen : find(join(root, 'test'), bench ? '.bench.ts' : '.test.ts'))
  .map((f) => relative(root, f))
  .sort()
  .sort((a, b) => expected(b) - expected(a));

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

/** Keeps this run's file times for the next run's order; lists the slowest files. */
function recordDurations() {
  let measured;
  try {
    measured = JSON.parse(readFileSync(timesFile, 'utf8'));
  } catch {
    return; // interrupted, or the caller chose the reporters
  } finally {
    rmSync(timesFile, { force: true });
  }
  const times = Object.entries(measured).map(([file, ms]) => [relative(root, file), ms]);
  mkdirSync(join(cacheFile, '..'), { recursive: true });
  writeFileSync(cacheFile, `${JSON.stringify({ ...known, ...Object.fromEntries(times) }, null, 1)}\n`);
  const slowest = times.sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (slowest.length > 1) console.log(`# slowest files: ${slowest.map(([file, ms]) => `${file} ${(ms / 1000).toFixed(1)} s`).join(', ')}`);
}

const build = await run([join(root, 'scripts/build.mjs')], process.env);
if (build !== 0) process.exit(build);

const mark = `LIFELINE_TEST_RUN=${randomUUID()}`;
// The usual report on stdout, plus each file's wall time into a temp file (unless the caller chose reporters).
const timesFile = join(tmpdir(), `lifeline-test-durations-${process.pid}.json`);
const ownReporters = flags.some((flag) => flag.startsWith('--test-reporter'));
const reporters = ownReporters
  ? []
  : [`--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`, '--test-reporter-destination=stdout', `--test-reporter=${join(root, 'scripts/test-durations-reporter.mjs')}`, `--test-reporter-destination=${timesFile}`];
const concurrency = flags.some((flag) => flag.startsWith('--test-concurrency')) ? [] : [`--test-concurrency=${CONCURRENCY}`];
const status = await run(['--import', 'tsx', '--test', ...concurrency, `--test-timeout=${timeout}`, ...reporters, ...flags, ...files], {
  ...process.env,
  LIFELINE_TEST_RUN: mark.slice('LIFELINE_TEST_RUN='.length),
});
recordDurations();
const left = await leftovers(mark);
if (left.length > 0) {
  console.error(`# ${left.length} processes started by the tests were still running at the end (now killed):`);
  for (const { pid, command } of left) console.error(`#   ${pid}: ${command}`);
  process.exit(status === 0 ? 1 : status);
}
process.exit(status);
