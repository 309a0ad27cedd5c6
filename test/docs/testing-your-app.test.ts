// docs/how-to/testing-your-app.md, run: its server-fixture and fault-proxy samples are written
// out with `lifeline/...` pointed at src/ and run as the page shows them. Each must exit on its
// own (everything it opened, closed) and do what its comments say.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { root, samples } from '../helpers/doc-samples.js';
import { killAll, spawnTracked } from '../helpers/processes.js';
import { within } from '../helpers/wait.js';

const dir = `${root}test-results/testing-your-app-${process.pid}/`;
const entries: Record<string, string> = {
  'lifeline/testing': 'src/testing/index.ts',
  'lifeline/client': 'src/client/node.ts',
  'lifeline/server': 'src/server/index.ts',
};

after(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the page's sample that contains `marker`; resolves with its output once it exited 0. */
async function runSample(marker: string): Promise<string> {
  const sample = samples('docs/how-to/testing-your-app.md').find((s) => s.code.includes(marker));
  assert.ok(sample, `no sample with ${marker}`);
  const code = sample.code.replace(/from '(lifeline\/\w+)'/g, (_, name: string) => {
    const path = entries[name];
    assert.ok(path, `the sample imports ${name}`);
    return `from '${pathToFileURL(`${root}${path}`).href}'`;
  });
  mkdirSync(dir, { recursive: true });
  const file = `${dir}sample-${sample.line}.ts`;
  writeFileSync(file, `${code}\nexport {};\n`);
  const child = spawnTracked(process.execPath, ['--import', 'tsx', file], { cwd: root });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code_] = (await within(once(child, 'close'), 30_000, `${sample.doc}:${sample.line} exits (output so far:\n${out})`)) as [number | null];
  assert.equal(code_, 0, `${sample.doc}:${sample.line} exits cleanly:\n${out}`);
  return out;
}

test('the server fixture sample opens a client against a fixture and closes both', { timeout: 60_000 }, async () => {
  assert.equal(await runSample('startServer({ pingInterval: 0 })'), '');
});

test('the fault proxy sample: a blackhole ends in the watchdog\'s 1006 "heartbeat timeout", pass brings the client back', { timeout: 60_000 }, async () => {
  assert.equal(await runSample("proxy.set('blackhole')"), '1006 heartbeat timeout\n');
});
