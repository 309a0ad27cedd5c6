// The option tables of docs/reference/ against the code: every default written there as a literal
// is the one the code fills in, the server's range paragraph is what its validation accepts, and
// every `lifeline serve` setting has its row in cli.md with the default `--help` prints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_HISTORY_BUDGET, DEFAULT_IDLE_CHANNEL_TTL, DEFAULT_MAX_IDEMPOTENCY_KEYS, DEFAULT_MAX_KEYS_PER_USER, DEFAULT_POSITION_TTL } from '../../src/broker/memory-broker-options.js';
import { serveHelp } from '../../src/cli/help.js';
import { envName, flagName, serveKeys } from '../../src/cli/serve-options.js';
import type { WebSocketConstructor } from '../../src/client/options.js';
import { resolveClientOptions } from '../../src/client/options.js';
import { resolveTimeout } from '../../src/client/lifeline-client-types.js';
import { defaultRetryBackoff } from '../../src/client/retry-policy.js';
import { withHeartbeat } from '../../src/client/with-heartbeat.js';
import { defaultHeartbeat } from '../../src/core/heartbeat.js';
import { DEFAULT_REDIS_IDLE_CHANNEL_TTL } from '../../src/redis/redis-broker-options.js';
import { resolveServerOptions } from '../../src/server/options.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The rows `| \`name\` | default | ... |` of the first table after `heading` (or of the page's first table). */
function optionRows(text: string, heading?: string): Map<string, string> {
  const from = heading === undefined ? 0 : text.indexOf(heading);
  assert.ok(from >= 0, `no "${heading}" heading`);
  const lines = text.slice(from).split('\n');
  const start = lines.findIndex((line) => line.startsWith('| option |'));
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [, names = '', fallback = ''] = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    for (const [, name] of names.matchAll(/`([\w.]+)`/g)) rows.set(name ?? '', fallback);
  }
  return rows;
}

/** A default cell written as a literal (`8080`, `'status'`, `true`, `[]`, `Infinity`), parsed; undefined for prose. */
function literal(cell: string): unknown {
  const match = /^`([^`]+)`/.exec(cell);
  if (!match?.[1]) return undefined;
  const text = match[1];
  if (text === 'Infinity') return Infinity;
  if (/^'[^']*'$/.test(text)) return text.slice(1, -1);
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false' || text === '[]' || text === '{}') return JSON.parse(text);
  return undefined;
}

/** Compares every literal default of `rows` with `actual(name)`; returns how many were compared. */
function compareDefaults(rows: Map<string, string>, actual: (name: string) => unknown, page: string): number {
  let compared = 0;
  for (const [name, cell] of rows) {
    const written = literal(cell);
    if (written === undefined) continue;
    assert.deepEqual(actual(name), written, `${page}: the default of ${name}`);
    compared++;
  }
  return compared;
}

test('server-options.md: every option of the first table, with the default the code fills in', () => {
  const page = read('docs/reference/server-options.md');
  const rows = optionRows(page);
  const resolved = resolveServerOptions({}) as unknown as Record<string, unknown>;
  const compared = compareDefaults(rows, (name) => (name === 'path' ? resolved.paths?.[0 as keyof unknown] : resolved[name]), 'server-options.md');
  assert.ok(compared >= 40, `only ${compared} defaults compared`);
  const documented = new Set(rows.keys());
  const missing = Object.keys(resolved).filter((name) => name !== 'paths' && !documented.has(name));
  assert.deepEqual(missing, [], 'options the code has and the table does not list');
});

test("server-options.md: the ranges paragraph is what the server's validation accepts", () => {
  const page = read('docs/reference/server-options.md');
  const paragraph = /^Ranges, checked at creation:([\s\S]*?)\n\n/m.exec(page)?.[1];
  assert.ok(paragraph, 'no "Ranges, checked at creation:" paragraph');
  const zero = new Set<string>();
  const infinite = new Set<string>();
  const fractional = new Set<string>();
  const upper = new Map<string, number>();
  for (const clause of paragraph.split(';')) {
    const names = [...clause.matchAll(/`(\w+)`/g)].map((match) => match[1] ?? '').filter((name) => name !== 'Infinity');
    const range = /(\d+)(?:-| to )(\d+)/.exec(clause);
    for (const name of names) {
      if (/may be 0|0 or more/.test(clause) || range?.[1] === '0') zero.add(name);
      if (/Infinity/.test(clause)) infinite.add(name);
      if (/\bnumbers?\b/.test(clause) && !/integer/.test(clause)) fractional.add(name);
      if (range) upper.set(name, Number(range[2]));
    }
  }
  const accepts = (name: string, value: number): boolean => {
    try {
      resolveServerOptions({ [name]: value });
      return true;
    } catch {
      return false;
    }
  };
  const numeric = Object.entries(resolveServerOptions({})).filter(([, value]) => typeof value === 'number').map(([name]) => name);
  assert.ok(numeric.length >= 30, `only ${numeric.length} numeric options`);
  for (const name of numeric) {
    assert.equal(accepts(name, 0), zero.has(name), `${name}: 0 ${zero.has(name) ? 'is' : 'is not'} documented as allowed`);
    assert.equal(accepts(name, -1), false, `${name}: -1`);
    assert.equal(accepts(name, 1.5), fractional.has(name), `${name}: 1.5 ${fractional.has(name) ? 'is' : 'is not'} documented as allowed`);
    assert.equal(accepts(name, Infinity), infinite.has(name), `${name}: Infinity ${infinite.has(name) ? 'is' : 'is not'} documented as allowed`);
    const max = upper.get(name);
    if (max !== undefined) assert.ok(accepts(name, max) && !accepts(name, max + 1), `${name}: at most ${max}`);
  }
});

test('server-options.md: the MemoryBroker table has the broker defaults', () => {
  const rows = optionRows(read('docs/reference/server-options.md'), '## `new MemoryBroker(options)`');
  const defaults: Record<string, number> = {
    historyBudget: DEFAULT_HISTORY_BUDGET,
    maxIdempotencyKeys: DEFAULT_MAX_IDEMPOTENCY_KEYS,
    maxKeysPerUser: DEFAULT_MAX_KEYS_PER_USER,
    idleChannelTtl: DEFAULT_IDLE_CHANNEL_TTL,
    positionTtl: DEFAULT_POSITION_TTL,
  };
  assert.equal(compareDefaults(rows, (name) => defaults[name], 'MemoryBroker'), Object.keys(defaults).length);
});

test('client-options.md: the literal defaults of both clients are the ones the code fills in', () => {
  const page = read('docs/reference/client-options.md');
  const WebSocket = class {} as unknown as WebSocketConstructor;
  const transport = resolveClientOptions({ WebSocket }) as unknown as Record<string, unknown>;
  const nested: Record<string, Record<string, unknown>> = { queue: { ...transport.queue as object }, heartbeat: { ...defaultHeartbeat }, retry: { ...defaultRetryBackoff } };
  const actual = (name: string): unknown => {
    const [group, setting] = name.split('.');
    if (setting !== undefined) return nested[group ?? '']?.[setting];
    if (name === 'publishTimeout' || name === 'requestTimeout' || name === 'retryDeadline') return resolveTimeout(name, undefined);
    return transport[name];
  };
  const compared = compareDefaults(optionRows(page), actual, 'client-options.md (ReconnectingWebSocket)') + compareDefaults(optionRows(page, '# LifelineClient'), (name) => (name === 'heartbeat' ? withHeartbeat(undefined) !== undefined : actual(name)), 'client-options.md (LifelineClient)');
  assert.ok(compared >= 20, `only ${compared} defaults compared`);
});

test('cli.md: every lifeline serve setting has its flag, env variable and --help default', () => {
  const page = read('docs/reference/cli.md');
  const help = serveHelp().replace(/\n\s+/g, ' ');
  for (const key of serveKeys) {
    const row = page.split('\n').find((line) => line.startsWith(`| \`--${flagName(key)}`));
    assert.ok(row, `cli.md has no row for --${flagName(key)}`);
    const [, , env = '', fallback = ''] = row.split('|').map((cell) => cell.trim());
    assert.equal(env, `\`${envName(key)}\``, `the env variable of --${flagName(key)}`);
    const written = literal(fallback);
    if (typeof written !== 'number') continue;
    const helpDefault = new RegExp(`--${flagName(key)}\\b[^]*?Default: (\\d+)`).exec(help)?.[1];
    assert.equal(Number(helpDefault), written, `--${flagName(key)}: cli.md and --help disagree on the default`);
  }
});

test('--idle-channel-ttl: --help and cli.md give its default with --redis too (the Redis broker keeps idle channels longer)', () => {
  const row = read('docs/reference/cli.md')
    .split('\n')
    .find((line) => line.startsWith('| `--idle-channel-ttl'));
  const hours = /with `--redis`: (\d+) h\)/.exec(row ?? '')?.[1];
  assert.equal(Number(hours) * 3_600_000, DEFAULT_REDIS_IDLE_CHANNEL_TTL, 'cli.md');
  const help = serveHelp().replace(/\n\s+/g, ' ');
  assert.match(help, new RegExp(`--idle-channel-ttl MS .*?Default: \\d+ ms \\(with --redis: ${DEFAULT_REDIS_IDLE_CHANNEL_TTL} ms\\)`), '--help');
});
