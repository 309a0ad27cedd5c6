import type { LifelineLogger } from '../../core/logger.js';
import type { HookVerdict } from './hub-options.js';

/** Runs an authorization hook: its answer, true without a hook, or 'failed' when it throws (logged). */
export async function ask(log: LifelineLogger, hook: () => HookVerdict | Promise<HookVerdict> | undefined): Promise<HookVerdict | 'failed'> {
  try {
    const verdict = (await hook()) ?? true;
    if (typeof verdict === 'object' && verdict !== null && typeof verdict.refused === 'string') return verdict;
    return Boolean(verdict);
  } catch (error) {
    log.error({ err: error }, 'authorization hook failed');
    return 'failed';
  }
}

/** The message of a `forbidden`: the hook's own reason, or `fallback`. */
export function refusal(verdict: HookVerdict, fallback: string): string {
  return typeof verdict === 'object' && verdict.refused !== '' ? verdict.refused : fallback;
}
