// `npm run bench`: Lifeline against raw `ws`, Socket.IO 4 (websocket transport) and a net-socket
// floor. Every server runs in its own process, clients in others; rounds interleave the stacks
// (for each round, each stack once) and the report gives medians. Writes
// <out>/<timestamp>.json and prints tables with ratios and the targets. See docs/benchmarks.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleChildren, type Bundle } from './build.js';
import { fileLimit, machine, sourceState } from './machine.js';
import { parseOptions, usageText, type BenchOptions } from './options.js';
import { killAll } from './process/child.js';
import { formatScenario, formatTargets } from './report.js';
import type { Results, RoundResult, ScenarioResult } from './results-model.js';
import { catchupScenario } from './scenarios/catchup.js';
import { connectScenario } from './scenarios/connect.js';
import { echoScenario } from './scenarios/echo.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { idleScenario } from './scenarios/idle.js';
import { overloadScenario } from './scenarios/overload.js';
import { redisScenario } from './scenarios/redis.js';
import { requestScenario } from './scenarios/request.js';
import { RunContext, type Metrics, type Scenario } from './scenarios/scenario.js';
import { stormScenario } from './scenarios/storm.js';
import { sustainedScenario } from './scenarios/sustained.js';
import { median } from './stats.js';
import { evaluateTargets } from './targets.js';

const root = fileURLToPath(new URL('..', import.meta.url));

async function scenariosOf(options: BenchOptions, bundle: Bundle): Promise<Scenario[]> {
  const sizes = options.sizes;
  const list: Scenario[] = [];
  for (const name of options.scenarios) {
    if (name === 'echo') list.push(echoScenario(sizes));
    if (name === 'request') list.push(requestScenario(sizes));
    if (name === 'sustained') list.push(sustainedScenario(sizes));
    if (name === 'fanout') for (const n of sizes.fanout.subscribers) list.push(fanoutScenario(sizes, n, options.publish));
    if (name === 'idle') list.push(idleScenario(sizes));
    if (name === 'connect') list.push(connectScenario(sizes));
    if (name === 'storm') list.push(stormScenario(sizes));
    if (name === 'catchup') list.push(catchupScenario(sizes));
    if (name === 'redis') list.push(await redisScenario(options, bundle));
    if (name === 'overload') list.push(overloadScenario(sizes, options.pin));
  }
  return list;
}

/** The stacks of `scenario` that `--stacks` keeps (`lifeline` keeps its storm, Redis and overload variants too). */
function selectedStacks(scenario: Scenario, filter: readonly string[] | undefined): string[] {
  if (!filter) return [...scenario.stacks];
  const lifelineOnly = scenario.key === 'redis' || scenario.key === 'overload';
  return scenario.stacks.filter((stack) => filter.includes(stack) || filter.includes(stack.split('-')[0] ?? '') || (lifelineOnly && filter.includes('lifeline')));
}

/** Needed open files: the idle scenario's server holds every connection (plus its own). */
function checkFileLimit(options: BenchOptions, notes: string[]): void {
  const limit = fileLimit();
  const needed = Math.max(options.sizes.idle.connections, options.sizes.sustained.connections, options.sizes.storm.clients, ...options.sizes.fanout.subscribers) + 200;
  if (limit && limit.soft < needed) {
    notes.push(`ulimit -n is ${limit.soft}, below the ${needed} open files the largest scenario needs in the server process: raise it (ulimit -n ${Math.min(limit.hard, needed * 2)})`);
  }
}

async function runOnce(options: BenchOptions, bundle: Bundle, scenario: Scenario, stack: string, round: number): Promise<RoundResult> {
  const context = new RunContext(options, bundle, scenario.key);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const running = scenario.run(context, stack);
  running.catch(() => undefined); // a run past its deadline still rejects once its processes are killed
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${scenario.timeoutMs} ms`)), scenario.timeoutMs);
    });
    const metrics = await Promise.race([running, deadline]);
    return { round, metrics, quiet: context.quiet, wallMs: Date.now() - started };
  } catch (error) {
    return { round, error: error instanceof Error ? error.message : String(error), quiet: context.quiet, wallMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    await context.dispose();
  }
}

function medians(rounds: readonly RoundResult[]): Metrics {
  const done = rounds.flatMap((r) => (r.metrics ? [r.metrics] : []));
  const names = new Set(done.flatMap((m) => Object.keys(m)));
  return Object.fromEntries([...names].map((name) => [name, median(done.map((m) => m[name] ?? NaN))]));
}

function progress(scenario: Scenario, stack: string, round: number, rounds: number, result: RoundResult): string {
  const head = `[${scenario.key}] round ${round}/${rounds} ${stack}`;
  if (result.error !== undefined) return `${head}: FAILED (${result.error.split('\n')[0] ?? ''})`;
  const [first, info] = Object.entries(scenario.metrics)[0] ?? [];
  const value = first === undefined ? undefined : result.metrics?.[first];
  const unquiet = result.quiet.some((q) => q.quiet === false) ? ' (machine not quiet)' : '';
  return `${head}: ${info?.label ?? ''} ${value === undefined ? '-' : Math.round(value * 100) / 100} ${info?.unit ?? ''} in ${(result.wallMs / 1000).toFixed(1)} s${unquiet}`;
}

async function main(): Promise<number> {
  let parsed: BenchOptions | 'help';
  try {
    parsed = parseOptions(process.argv.slice(2), join(root, 'bench/results'));
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${usageText}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(usageText);
    return 0;
  }
  const options = parsed;
  mkdirSync(options.outDir, { recursive: true });
  const results: Results = {
    version: 1,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    preset: options.preset,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    ...(options.src === undefined ? {} : { source: options.src }),
    machine: machine(),
    git: sourceState(),
    sizes: options.sizes,
    scenarios: {},
    targets: [],
    notes: [],
  };
  checkFileLimit(options, results.notes);
  for (const note of results.notes) console.log(`note: ${note}`);
  const bundle = await bundleChildren(options.src);
  let failures = 0;
  try {
    for (const scenario of await scenariosOf(options, bundle)) {
      const stacks = selectedStacks(scenario, options.stacks);
      if (stacks.length === 0) continue;
      const entry: ScenarioResult = {
        title: scenario.title,
        params: scenario.params,
        metrics: scenario.metrics,
        ...(scenario.unavailable === undefined ? {} : { unavailable: scenario.unavailable }),
        stacks: {},
      };
      results.scenarios[scenario.key] = entry;
      if (scenario.unavailable === undefined) {
        for (const stack of stacks) entry.stacks[stack] = { rounds: [], median: {} };
        const rounds = scenario.rounds ?? options.sizes.rounds;
        for (let round = 1; round <= rounds; round++) {
          for (const stack of stacks) {
            const result = await runOnce(options, bundle, scenario, stack, round);
            entry.stacks[stack]?.rounds.push(result);
            console.log(progress(scenario, stack, round, rounds, result));
            if (result.error !== undefined) {
              failures++;
              results.notes.push(`${scenario.key} ${stack} round ${round} failed: ${result.error}`);
            }
            if (result.quiet.some((q) => q.quiet === false)) results.notes.push(`${scenario.key} ${stack} round ${round}: the machine never got quiet (idle ${Math.round(100 * (result.quiet.at(-1)?.idle ?? 0))} %)`);
          }
        }
        await scenario.finish?.();
        for (const stack of stacks) {
          const stackResult = entry.stacks[stack];
          if (stackResult) stackResult.median = medians(stackResult.rounds);
        }
      }
      console.log(`\n${formatScenario(scenario.key, entry)}`);
    }
  } finally {
    bundle.remove();
    killAll();
  }
  results.targets = evaluateTargets(results);
  results.finishedAt = new Date().toISOString();
  const file = join(options.outDir, `${results.startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`);
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, text);
  if (options.latest) writeFileSync(join(options.outDir, 'latest.json'), text);
  console.log(formatTargets(results.targets));
  console.log(`results: ${file}`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    killAll();
    process.exit(1);
  },
);
