/**
 * The bench's targets compare two stacks round by round: the ratio is the median of each
 * round's ratio, so a quiet round of one stack is not set against a busy round of the other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Results, RoundResult, TargetResult } from '../../bench/results-model.js';
import { evaluateTargets } from '../../bench/targets.js';
import { median } from '../../bench/stats.js';

function rounds(values: readonly number[]): RoundResult[] {
  return values.map((perSec, i) => ({ round: i + 1, metrics: { perSec }, quiet: [], wallMs: 1 }));
}

function connectResults(lifeline: readonly number[], ws: readonly number[]): Results {
  const stack = (values: readonly number[]): { rounds: RoundResult[]; median: Record<string, number> } => ({ rounds: rounds(values), median: { perSec: median(values) } });
  return {
    version: 1,
    startedAt: '',
    finishedAt: '',
    preset: 'test',
    command: '',
    machine: {},
    git: undefined,
    sizes: {},
    scenarios: { connect: { title: 'connect', params: {}, metrics: {}, stacks: { lifeline: stack(lifeline), ws: stack(ws) } } },
    targets: [],
    notes: [],
  };
}

const connectTarget = (results: Results): TargetResult | undefined => evaluateTargets(results).find((t) => t.target.startsWith('connection rate'));

test('a ratio between stacks is the median of the per-round ratios, not the ratio of the medians', () => {
  // Round 2 was a busy spell for ws only, round 3 for Lifeline only: per round 1.0, 0.5, 2.0.
  const target = connectTarget(connectResults([1_000, 1_000, 2_000], [1_000, 2_000, 1_000]));
  assert.ok(target);
  assert.equal(target.value, 1);
  assert.equal(target.pass, true);
  assert.match(target.detail, /^1\.00x paired by round \(medians 1,000 vs 1,000\)/);
  // The ratio of the medians would have been 1,000 / 1,000 too here; this one differs:
  const skewed = connectTarget(connectResults([900, 1_800, 1_000], [1_000, 1_000, 2_000]));
  assert.ok(skewed);
  // Per round 0.9, 1.8, 0.5: median 0.9 (the medians' ratio would be 1,000 / 1,000 = 1.0, a pass).
  assert.equal(skewed.value, 0.9);
  assert.equal(skewed.pass, false);
});

test('rounds one stack did not complete are left out of the pairing; with no pair at all, the medians are compared', () => {
  const results = connectResults([1_000, 3_000, 1_200], [1_000, 1_000, 1_000]);
  const ws = results.scenarios['connect']?.stacks['ws'];
  assert.ok(ws);
  ws.rounds[1] = { round: 2, error: 'failed', quiet: [], wallMs: 1 };
  const target = connectTarget(results);
  assert.ok(target);
  assert.equal(target.value, 1.1, 'rounds 1 and 3: ratios 1.0 and 1.2');
  const unpaired = connectResults([1_500], [1_000]);
  const lifeline = unpaired.scenarios['connect']?.stacks['lifeline'];
  assert.ok(lifeline);
  lifeline.rounds[0] = { round: 7, metrics: { perSec: 1_500 }, quiet: [], wallMs: 1 };
  assert.equal(connectTarget(unpaired)?.value, 1.5);
});
