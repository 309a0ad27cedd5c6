// The shape of a results file (bench/results/<timestamp>.json).
import type { QuietReport } from './quiet.js';
import type { MetricInfo, Metrics } from './scenarios/scenario.js';

export interface RoundResult {
  readonly round: number;
  readonly metrics?: Metrics;
  readonly error?: string;
  /** The quiet-machine waits before this run's measurements. */
  readonly quiet: readonly QuietReport[];
  readonly wallMs: number;
}

export interface StackResult {
  readonly rounds: RoundResult[];
  /** Per metric, the median of the rounds that completed. */
  median: Metrics;
}

export interface ScenarioResult {
  readonly title: string;
  readonly params: Record<string, unknown>;
  readonly metrics: Readonly<Record<string, MetricInfo>>;
  readonly unavailable?: string;
  readonly stacks: Record<string, StackResult>;
}

export interface TargetResult {
  readonly target: string;
  /** undefined: not measured in this run. */
  readonly pass: boolean | undefined;
  /** The measured ratio (or value) and the limit it is held to. */
  readonly value: number;
  readonly limit: number;
  /** How far from the limit, in percent of it: positive = inside, negative = missed by. */
  readonly marginPct: number;
  readonly detail: string;
}

export interface Results {
  readonly version: 1;
  readonly startedAt: string;
  finishedAt: string;
  readonly preset: string;
  readonly command: string;
  /** Set when Lifeline was bundled from another source tree (`--src`). */
  readonly source?: string;
  readonly machine: Record<string, unknown>;
  /** The commit measured (and whether src/ had uncommitted changes). */
  readonly git: { readonly commit: string; readonly srcDirty: boolean } | undefined;
  readonly sizes: unknown;
  readonly scenarios: Record<string, ScenarioResult>;
  targets: TargetResult[];
  /** Runs that failed or machines that never got quiet. */
  readonly notes: string[];
}
