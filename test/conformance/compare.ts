/** The one comparison both conformance suites make for a case. */
import assert from 'node:assert/strict';
import { deviations } from './cases.js';
import type { CaseResults } from './run-cases.js';

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/**
 * Lifeline's result equals the reference's, except a documented deviation (then it is the listed
 * result, and still differs from the reference) or where the reference strays from the standard
 * (`standard` gives the standard's result, which Lifeline must give).
 */
export function assertCase(name: string, results: CaseResults, standard: Readonly<Record<string, unknown>> = {}): void {
  const reference = results.reference[name];
  const lifeline = results.lifeline[name];
  assert.notEqual(reference, undefined, 'the reference ran the case');
  const deviation = deviations[name];
  if (deviation) {
    assert.deepEqual(lifeline, deviation.lifeline, `documented deviation: ${deviation.why}`);
    assert.notDeepEqual(reference, lifeline, 'a deviation that is no longer one: remove it from the list');
  } else if (name in standard && !isDeepEqual(reference, standard[name])) {
    assert.deepEqual(lifeline, standard[name], 'the reference strays from the standard here; Lifeline follows the standard');
  } else {
    assert.deepEqual(lifeline, reference);
  }
}
