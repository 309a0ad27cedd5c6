// Prints a scenario's medians as a table, with Lifeline's ratio to each other stack, and the
// targets with pass/miss and the margin.
import type { ScenarioResult, TargetResult } from './results-model.js';

const RATIO_TO: readonly [string, string][] = [
  ['ws', 'L/ws'],
  ['socketio', 'L/Socket.IO'],
  ['floor', 'L/floor'],
];

export function formatNumber(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  ')).join('\n');
}

export function formatScenario(key: string, result: ScenarioResult): string {
  const title = `== ${result.title} [${key}]`;
  if (result.unavailable !== undefined) return `${title}\nunavailable: ${result.unavailable}\n`;
  const stacks = Object.keys(result.stacks);
  const ratios = stacks.includes('lifeline') ? RATIO_TO.filter(([other]) => stacks.includes(other)) : [];
  const header = ['', ...stacks, ...ratios.map(([, label]) => label)];
  const rows = Object.entries(result.metrics).map(([metric, info]) => {
    const values = stacks.map((stack) => result.stacks[stack]?.median[metric]);
    const lifeline = result.stacks.lifeline?.median[metric];
    const ratioCells = ratios.map(([other]) => {
      const theirs = result.stacks[other]?.median[metric];
      return lifeline !== undefined && theirs !== undefined && Number.isFinite(lifeline) && Number.isFinite(theirs) && theirs !== 0 ? `${(lifeline / theirs).toFixed(2)}x` : '-';
    });
    return [`${info.label} (${info.unit}${info.better === 'higher' ? ', higher is better' : ''})`.replace(' ()', ''), ...values.map(formatNumber), ...ratioCells];
  });
  const failures = stacks.flatMap((stack) =>
    (result.stacks[stack]?.rounds ?? []).flatMap((r) => (r.error === undefined ? [] : [`  ${stack} round ${r.round} failed: ${r.error.split('\n')[0] ?? ''}`])),
  );
  return `${title}\n${table([header, ...rows])}\n${failures.length > 0 ? `${failures.join('\n')}\n` : ''}`;
}

export function formatTargets(targets: readonly TargetResult[]): string {
  const rows = targets.map((t) => {
    const verdict = t.pass === undefined ? 'n/a' : t.pass ? `pass (${formatMargin(t.marginPct)} inside)` : `MISS by ${formatMargin(-t.marginPct)}`;
    return [t.target, verdict, t.detail];
  });
  return `== Targets\n${table([['target', 'verdict', 'measured'], ...rows])}\n`;
}

function formatMargin(pct: number): string {
  return Number.isFinite(pct) ? `${pct.toFixed(1)}%` : '?';
}
