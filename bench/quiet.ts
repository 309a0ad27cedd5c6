// Waits for a quiet machine before a measurement: the share of idle CPU time over one-second
// windows (from /proc/stat) must reach the threshold. Bounded: a machine that never quiets
// down is measured anyway, and the result says so.
import { readFileSync } from 'node:fs';

export interface QuietReport {
  /** True when the idle share reached the threshold; undefined when it could not be read. */
  readonly quiet: boolean | undefined;
  /** Idle share of the last window, 0-1. */
  readonly idle: number | undefined;
  readonly waitedMs: number;
}

function cpuTimes(): { idle: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait count as idle.
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

async function idleShare(windowMs: number): Promise<number | undefined> {
  const before = cpuTimes();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = cpuTimes();
  if (!before || !after || after.total === before.total) return undefined;
  return (after.idle - before.idle) / (after.total - before.total);
}

/** Samples 1 s windows until idle >= `threshold` or `maxWaitMs` passed; with 0, one 100 ms sample for the record. */
export async function waitForQuiet(maxWaitMs: number, threshold = 0.8): Promise<QuietReport> {
  const started = Date.now();
  if (maxWaitMs <= 0) {
    const idle = await idleShare(100);
    return { quiet: idle === undefined ? undefined : idle >= threshold, idle, waitedMs: Date.now() - started };
  }
  let idle: number | undefined;
  do {
    idle = await idleShare(1000);
    if (idle === undefined) return { quiet: undefined, idle, waitedMs: Date.now() - started };
    if (idle >= threshold) return { quiet: true, idle, waitedMs: Date.now() - started };
  } while (Date.now() - started < maxWaitMs);
  return { quiet: false, idle, waitedMs: Date.now() - started };
}
