import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// `npm test` builds first: this checks dist/'s declarations as an app's compiler reads them.
const root = fileURLToPath(new URL('../../', import.meta.url));

async function typeCheck(project: string): Promise<{ code: number; output: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { cwd: root, timeout: 300_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

test('the built client declarations type-check on their own, and the opt-in option types refuse the Node-only bare forms', async () => {
  const result = await typeCheck('test/package/declarations');
  // Any error is listed: an undeclared name in a .d.ts, or an @ts-expect-error the types let through.
  assert.equal(result.output.trim(), '');
  assert.equal(result.code, 0);
});

test('every entry type-checks in a Node project with no DOM lib (lib ES2023, @types/node, skipLibCheck: false), and a broker of one\'s own can name every type Broker uses', async () => {
  const result = await typeCheck('test/package/declarations/tsconfig.node.json');
  // A DOM-only name in a .d.ts (AddEventListenerOptions, WebSocketEventMap) is listed here.
  assert.equal(result.output.trim(), '');
  assert.equal(result.code, 0);
});

test('a Node project with bundler resolution gets the Node entry\'s types through customConditions: ["node"], as docs/reference/client-options.md says', async () => {
  const result = await typeCheck('test/package/declarations/tsconfig.bundler-node.json');
  assert.equal(result.output.trim(), '');
  assert.equal(result.code, 0);
});
