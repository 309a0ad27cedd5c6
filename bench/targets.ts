// The performance targets Lifeline is held to, checked against a run's rounds: a ratio between
// two stacks is the median of the ratios of each round (the stacks of one round ran one after
// the other, under the same load), not the ratio of the two medians, which can pair a quiet
// round of one stack with a busy round of the other.
import type { Results, TargetResult } from './results-model.js';
import { median } from './stats.js';

interface Comparison {
  readonly target: string;
  readonly scenario: string;
  readonly metric: string;
  /** Lifeline's value over `other`'s (or Lifeline's value alone when `other` is undefined). */
  readonly stack: string;
  readonly other?: string;
  readonly op: '>=' | '<=' | '<';
  readonly limit: number;
}

function comparisons(results: Results): Comparison[] {
  const fanouts = Object.keys(results.scenarios).filter((key) => /^fanout-\d+$/.test(key)); // the paced publisher's
  const sustained = Object.keys(results.scenarios).filter((key) => /^sustained-\d+$/.test(key));
  return [
    ...sustained.flatMap((key): Comparison[] => {
      const n = key.slice('sustained-'.length);
      return [
        { target: `sustained ${n}: deliveries/s under the p99 bound >= 1.2x Socket.IO`, scenario: key, metric: 'deliveriesPerSec', stack: 'lifeline', other: 'socketio', op: '>=', limit: 1.2 },
        // CPU efficiency >= 0.9x raw ws's: CPU per delivery <= 1 / 0.9 of its.
        { target: `sustained ${n}: CPU efficiency >= 0.9x raw ws (CPU per delivery <= 1.11x)`, scenario: key, metric: 'serverCpuUsPerDelivery', stack: 'lifeline', other: 'ws', op: '<=', limit: 1.11 },
        { target: `sustained ${n}: longest event-loop stall < 50 ms`, scenario: key, metric: 'maxStallMs', stack: 'lifeline', op: '<', limit: 50 },
      ];
    }),
    ...fanouts.flatMap((key): Comparison[] => {
      const n = key.slice('fanout-'.length);
      return [
        { target: `fan-out ${n}: deliveries/s >= 1.2x Socket.IO`, scenario: key, metric: 'deliveriesPerSec', stack: 'lifeline', other: 'socketio', op: '>=', limit: 1.2 },
        { target: `fan-out ${n}: server peak RSS <= 1.5x raw ws`, scenario: key, metric: 'peakRssMB', stack: 'lifeline', other: 'ws', op: '<=', limit: 1.5 },
        { target: `fan-out ${n}: server CPU per delivery <= 1.5x the floor`, scenario: key, metric: 'serverCpuUsPerDelivery', stack: 'lifeline', other: 'floor', op: '<=', limit: 1.5 },
      ];
    }),
    { target: 'idle memory per connection (RSS, young generation left out) <= 1.2x raw ws', scenario: 'idle', metric: 'rssSettledPerConnKB', stack: 'lifeline', other: 'ws', op: '<=', limit: 1.2 },
    { target: 'echo p50 <= 1.15x raw ws', scenario: 'echo', metric: 'p50Us', stack: 'lifeline', other: 'ws', op: '<=', limit: 1.15 },
    { target: 'echo throughput >= 0.9x raw ws', scenario: 'echo', metric: 'throughput', stack: 'lifeline', other: 'ws', op: '>=', limit: 0.9 },
    ...(['req', 'pub'] as const).flatMap((prefix): Comparison[] => {
      const what = prefix === 'req' ? 'request' : 'publish+ack';
      return [
        { target: `${what} throughput >= 0.9x raw ws echo`, scenario: 'request', metric: `${prefix}Throughput`, stack: 'lifeline', other: 'ws', op: '>=', limit: 0.9 },
        { target: `${what} p50 <= 1.15x raw ws echo`, scenario: 'request', metric: `${prefix}P50Us`, stack: 'lifeline', other: 'ws', op: '<=', limit: 1.15 },
        { target: `${what} max round trip under load <= 2x raw ws echo`, scenario: 'request', metric: `${prefix}LoadMaxUs`, stack: 'lifeline', other: 'ws', op: '<=', limit: 2 },
      ];
    }),
    { target: 'connection rate >= 1.0x raw ws', scenario: 'connect', metric: 'perSec', stack: 'lifeline', other: 'ws', op: '>=', limit: 1 },
    { target: 'catch-up of missed events < 50 ms', scenario: 'catchup', metric: 'lastMs', stack: 'lifeline', op: '<', limit: 50 },
    { target: 'storm: peak accept rate with hint < without', scenario: 'storm', metric: 'peakAcceptPerSec', stack: 'lifeline-hint', other: 'lifeline-crash', op: '<', limit: 1 },
    { target: 'storm: every client caught up (hint)', scenario: 'storm', metric: 'caughtUpPct', stack: 'lifeline-hint', op: '>=', limit: 100 },
    { target: 'storm: every client caught up (crash)', scenario: 'storm', metric: 'caughtUpPct', stack: 'lifeline-crash', op: '>=', limit: 100 },
  ];
}

function value(results: Results, scenario: string, stack: string, metric: string): number | undefined {
  const v = results.scenarios[scenario]?.stacks[stack]?.median[metric];
  return v === undefined || !Number.isFinite(v) ? undefined : v;
}

/**
 * The median over rounds of `stack`'s metric over `other`'s in the same round, for the rounds
 * where both have a finite value (`other`'s not 0); undefined when there is none.
 */
function pairedRatio(results: Results, scenario: string, stack: string, other: string, metric: string): number | undefined {
  const stacks = results.scenarios[scenario]?.stacks;
  const theirs = new Map((stacks?.[other]?.rounds ?? []).map((round) => [round.round, round.metrics?.[metric]]));
  const ratios = (stacks?.[stack]?.rounds ?? []).flatMap((round) => {
    const a = round.metrics?.[metric];
    const b = theirs.get(round.round);
    return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? [a / b] : [];
  });
  return ratios.length === 0 ? undefined : median(ratios);
}

export function evaluateTargets(results: Results): TargetResult[] {
  return comparisons(results).map((c) => {
    const mine = value(results, c.scenario, c.stack, c.metric);
    const theirs = c.other === undefined ? 1 : value(results, c.scenario, c.other, c.metric);
    const paired = c.other === undefined ? undefined : pairedRatio(results, c.scenario, c.stack, c.other, c.metric);
    if (mine === undefined || theirs === undefined || theirs === 0) {
      return { target: c.target, pass: undefined, value: NaN, limit: c.limit, marginPct: NaN, detail: 'not measured' };
    }
    const measured = paired ?? mine / theirs;
    const pass = c.op === '>=' ? measured >= c.limit : c.op === '<=' ? measured <= c.limit : measured < c.limit;
    const marginPct = 100 * (c.op === '>=' ? measured / c.limit - 1 : 1 - measured / c.limit);
    const shown = c.other === undefined ? `${round(mine)}` : `${round(measured)}x paired by round (medians ${round(mine)} vs ${round(theirs)})`;
    return { target: c.target, pass, value: measured, limit: c.limit, marginPct, detail: `${shown}; limit ${c.op} ${c.limit}${c.other === undefined ? '' : 'x'}` };
  });
}

function round(n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
}
