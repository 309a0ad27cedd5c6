// The benchmark harness at tiny sizes (`--smoke`): every scenario runs for every stack and
// yields positive, finite numbers, the targets are evaluated, and no benchmark process is left
// behind. The only part of bench/ that CI runs, as its own step with its own budget
// (`npm run test:bench`, after `npm test`); the figures themselves are not asserted.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface StackResult {
  readonly rounds: readonly { readonly error?: string }[];
  readonly median: Readonly<Record<string, number>>;
}

interface ScenarioResult {
  readonly metrics: Readonly<Record<string, { readonly only?: readonly string[]; readonly zeroOk?: boolean; readonly signed?: boolean }>>;
  readonly unavailable?: string;
  readonly stacks: Readonly<Record<string, StackResult>>;
}

interface Results {
  readonly scenarios: Readonly<Record<string, ScenarioResult>>;
  readonly targets: readonly { readonly target: string; readonly pass: boolean | null }[];
  readonly machine: Readonly<Record<string, unknown>>;
}

const EXPECTED: Readonly<Record<string, readonly string[]>> = {
  echo: ['lifeline', 'ws', 'socketio', 'floor'],
  request: ['lifeline', 'ws', 'socketio'],
  'fanout-20': ['lifeline', 'ws', 'socketio', 'floor'],
  'sustained-20': ['lifeline', 'ws', 'socketio'],
  idle: ['lifeline', 'ws', 'socketio', 'floor'],
  connect: ['lifeline', 'ws', 'socketio', 'floor'],
  storm: ['lifeline-hint', 'lifeline-crash', 'ws', 'socketio'],
  catchup: ['lifeline', 'ws', 'socketio'],
  redis: ['memory', 'redis-1node', 'redis-2nodes', 'redis-3nodes'],
  overload: ['plain-tcp', 'unlimited', 'admission-rate', 'admission-rate+delay', 'max-connections'],
};

/** Processes whose command line names this run's bundle directory (bench/.build/<pid>-...), from /proc. */
function leftovers(pid: number): string[] {
  const mark = `bench/.build/${pid}-`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
        return command.includes(mark) ? [`${entry}: ${command}`] : [];
      } catch {
        return []; // the process ended while we looked
      }
    });
}

test('bench --smoke measures every scenario for every stack, with positive finite numbers and no process left behind', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'lifeline-bench-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const child = spawnTracked(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out], { cwd: ROOT });
  t.after(() => killProcess(child));
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await within(new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))), 540_000, 'the smoke benchmark to finish');
  assert.equal(code, 0, output);
  assert.deepEqual(leftovers(child.pid ?? -1), [], 'benchmark processes outlived the run');

  const files = readdirSync(out).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 1, `one results file in ${out}`);
  const results = JSON.parse(readFileSync(join(out, files[0] ?? ''), 'utf8')) as Results;
  assert.equal(typeof results.machine.node, 'string');

  for (const [key, stacks] of Object.entries(EXPECTED)) {
    const scenario = results.scenarios[key];
    assert.ok(scenario, `scenario ${key} is in the results`);
    if (key === 'redis' && scenario.unavailable !== undefined) {
      // CI must prove the Redis path; elsewhere a machine without Redis may skip it, saying why.
      assert.notEqual(process.env.CI, 'true', `redis scenario unavailable under CI: ${scenario.unavailable}`);
      t.diagnostic(`redis scenario skipped: ${scenario.unavailable}`);
      continue;
    }
    assert.equal(scenario.unavailable, undefined);
    assert.deepEqual(Object.keys(scenario.stacks).sort(), [...stacks].sort(), `${key}: every stack ran`);
    for (const stack of stacks) {
      const result: StackResult | undefined = scenario.stacks[stack];
      assert.ok(result, `${key}/${stack} has a result`);
      assert.deepEqual(result.rounds.flatMap((r) => (r.error === undefined ? [] : [r.error])), [], `${key}/${stack} ran without errors`);
      for (const [metric, info] of Object.entries(scenario.metrics)) {
        const value: number | undefined = result.median[metric];
        if (info.only && !info.only.includes(stack)) {
          assert.equal(value, undefined, `${key}/${stack}/${metric} is not measured for this stack`);
          continue;
        }
        const least = info.signed ? -Infinity : info.zeroOk ? 0 : Number.MIN_VALUE;
        const want = info.signed ? 'finite' : info.zeroOk ? 'finite and not negative' : 'positive and finite';
        assert.ok(typeof value === 'number' && Number.isFinite(value) && value >= least, `${key}/${stack}/${metric} is ${want} (got ${String(value)})`);
      }
    }
  }
  assert.ok(results.targets.length >= 10, 'the targets are evaluated');
  assert.ok(
    results.targets.every((target) => typeof target.pass === 'boolean'),
    `every target has a verdict: ${results.targets.filter((target) => typeof target.pass !== 'boolean').map((target) => target.target).join(', ')}`,
  );
});
