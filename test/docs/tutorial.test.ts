// docs/tutorial.md, run: its JavaScript blocks are written out as the files they name and run
// as the tutorial says, against the built package (imported as `lifeline/...` through its
// "exports"; the files sit inside this package so the name resolves to it).
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { within } from '../helpers/wait.js';

const root = new URL('../../', import.meta.url);
const dir = fileURLToPath(new URL(`test-results/tutorial-${process.pid}/`, root));
const running = new Set<ChildProcessWithoutNullStreams>();

after(async () => {
  for (const child of running) child.kill('SIGKILL');
  await Promise.all([...running].map((child) => new Promise((resolve) => child.once('close', resolve))));
  rmSync(dir, { recursive: true, force: true });
});

/** The tutorial's JavaScript blocks, by the file each names on its first line. */
function tutorialFiles(): Map<string, string> {
  const text = readFileSync(new URL('docs/tutorial.md', root), 'utf8');
  const files = new Map<string, string>();
  for (const match of text.matchAll(/```js\n([\s\S]*?)```/g)) {
    const code = match[1] ?? '';
    const name = /^\/\/ file: (\S+)\n/.exec(code)?.[1];
    assert.ok(name, `every js block names its file:\n${code}`);
    files.set(name, code);
  }
  return files;
}

interface Run {
  readonly child: ChildProcessWithoutNullStreams;
  output(): string;
  /** Waits until the output matches `pattern` (or the process exits without it). */
  waitFor(pattern: RegExp, what: string): Promise<string>;
  exited: Promise<number | null>;
}

function run(file: string, args: readonly string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [file, ...args], { cwd: dir, env: { ...process.env, ...env } });
  running.add(child);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => (running.delete(child), resolve(code))));
  return {
    child,
    output: () => out,
    exited,
    waitFor: (pattern, what) =>
      within(
        new Promise<string>((resolve, reject) => {
          const check = (): void => {
            const match = pattern.exec(out);
            if (match) {
              child.stdout.off('data', check);
              child.stderr.off('data', check);
              resolve(match[0]);
            }
          };
          child.stdout.on('data', check);
          child.stderr.on('data', check);
          void exited.then(() => (pattern.test(out) ? resolve(pattern.exec(out)?.[0] ?? '') : reject(new Error(`${file} exited without ${what}:\n${out}`))));
          check();
        }),
        15_000,
        `${what} (output so far:\n${out})`,
      ),
  };
}

test('the tutorial: a server, two people chatting with history and presence, a client that rides out a restart', { timeout: 90_000 }, async () => {
  mkdirSync(dir, { recursive: true });
  const files = tutorialFiles();
  assert.deepEqual([...files.keys()], ['server.mjs', 'chat.mjs', 'watch.mjs']);
  for (const [name, code] of files) writeFileSync(`${dir}${name}`, code);

  // Step 2: the server (on a free port here, where the tutorial uses 8080).
  let server = run('server.mjs', [], { PORT: '0' });
  const url = (await server.waitFor(/ws:\/\/127\.0\.0\.1:\d+\/ws/, 'the server to listen')).trim();
  const port = new URL(url).port;

  // Step 3: ann says hello; bob sees it from history, then his own message.
  const ann = run('chat.mjs', [url, 'ann', 'hello,', 'anyone', 'here?']);
  assert.equal(await ann.exited, 0, ann.output());
  assert.match(ann.output(), /^here: ann$/m);
  assert.match(ann.output(), /^#1 ann: hello, anyone here\?$/m);
  const bob = run('chat.mjs', [url, 'bob', 'hi', 'ann']);
  assert.equal(await bob.exited, 0, bob.output());
  const lines = bob.output().trim().split('\n');
  assert.equal(lines.filter((line) => line === '#1 ann: hello, anyone here?').length, 1, 'from history, once');
  assert.ok(lines.indexOf('#1 ann: hello, anyone here?') < lines.indexOf('#2 bob: hi ann'), bob.output());

  // Step 4: a watcher rides out a restart (SIGINT: 1012), and is ready again once the server is back.
  const watcher = run('watch.mjs', [url, 'ann']);
  await watcher.waitFor(/state: ready/, 'the watcher to be ready');
  server.child.kill('SIGINT');
  await server.exited;
  await watcher.waitFor(/closed 1012, reconnecting: true/, 'the 1012 close');
  await watcher.waitFor(/state: reconnecting/, 'reconnecting');
  server = run('server.mjs', [], { PORT: port });
  await server.waitFor(/listening on/, 'the server back');
  await watcher.waitFor(/state: ready[\s\S]*state: ready/, 'ready again');
  await watcher.waitFor(/missed messages are gone: reload the room/, 'the new history reported');
  watcher.child.kill('SIGINT');
  server.child.kill('SIGINT');
  await Promise.all([watcher.exited, server.exited]);
});
