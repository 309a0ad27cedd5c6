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
// Every process the run starts carries LIFELINE_TEST_RUN=<id> in its environment, and those the
// tests start through test/helpers/processes.ts are also registered in a file of the run (pid and
// start time: redis-server writes its title over its environment, hiding the mark). When the
// runner is done, any such process still alive was left behind by a test: it is listed, killed,
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

/** A live process's start time (field 22 of its stat), or undefined for a zombie or no process. */
function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return undefined;
    return stat.split(') ')[1]?.split(' ')[19];
  } catch {
    return undefined; // gone, or not ours to read
  }
}

function commandOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 200);
  } catch {
    return '';
  }
}

/**
 * Pids of live processes (not zombies) of this run: those whose environment holds `mark`, and
 * those test/helpers/processes.ts registered in `registry` (pid and start time) that still run
 * (redis-server writes its title over its environment, so the mark alone misses it).
 */
function marked(mark, registry) {
  const found = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid || startTime(entry) === undefined) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(mark)) found.set(Number(entry), commandOf(entry));
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  let lines = [];
  try {
    lines = readFileSync(registry, 'utf8').split('\n');
  } catch {
    // no process registered
  }
  for (const line of lines) {
    const [pid, started] = line.split(' ');
    if (pid && started && startTime(pid) === started) found.set(Number(pid), commandOf(pid));
  }
  return [...found].map(([pid, command]) => ({ pid, command }));
}

/** Waits up to 5 s for marked processes to end by themselves; kills and reports the rest. */
async function leftovers(mark, registry) {
  if (process.platform !== 'linux') return [];
  for (let i = 0; i < 50 && marked(mark, registry).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const left = marked(mark, registry);
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
// Where test/helpers/processes.ts registers each process it starts (see `marked`).
const registry = join(tmpdir(), `lifeline-test-run-${mark.slice('LIFELINE_TEST_RUN='.length)}.pids`);
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
const left = await leftovers(mark, registry);
rmSync(registry, { force: true });
if (left.length > 0) {
  console.error(`# ${left.length} processes started by the tests were still running at the end (now killed):`);
  for (const { pid, command } of left) console.error(`#   ${pid}: ${command}`);
  process.exit(status === 0 ? 1 : status);
}
process.exit(status);
