/**
 * Every help text fits 100 columns, and its examples are commands a shell runs as printed:
 * a line continuation is a backslash at the end of a line, not swallowed by the template.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCliInProcess } from './harness.js';

for (const args of [['--help'], ['serve', '--help'], ['connect', '--help'], ['probe', '--help']]) {
  test(`lifeline ${args.join(' ')} fits 100 columns and prints its examples as a shell reads them`, async () => {
    const { code, stdout } = await runCliInProcess(args);
    assert.equal(code, 0);
    const lines = stdout.split('\n');
    assert.ok(lines.length > 10, 'a help text');
    assert.deepEqual(lines.filter((line) => line.length > 100), [], 'lines over 100 columns');
    // An example split over lines ends the first with " \"; one printed as a single long line
    // (its backslash read as a line continuation by the template) is caught above.
    for (const [i, line] of lines.entries()) if (line.endsWith('\\')) assert.match(lines[i + 1] ?? '', /^\s{4,}\S/, `the line after ${JSON.stringify(line)} is indented`);
  });
}
