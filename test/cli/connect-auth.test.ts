// `lifeline connect` against a real `lifeline serve --demo` where credentials matter: a refusal
// shows the server's reason and ends at once when retrying cannot help, says where a token
// comes from, and --token-command fetches a fresh one before every attempt. In lifeline.v1 mode
// a plain line is explained, not sent; a demo publish of the wrong shape says what it wants.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startConnect } from './connect-support.js';
import { startServe, stopAll, type RunningServer } from './harness.js';
import { eventually } from '../helpers/wait.js';

let server: RunningServer;
let dir: string;

before(async () => {
  server = await startServe(['--demo', '--port', '0']);
  dir = await mkdtemp(join(tmpdir(), 'lifeline-connect-auth-'));
});
after(async () => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});

/** A shell command that prints a demo token for `user` (Node's fetch, no curl needed). */
function fetchTokenCommand(user: string): string {
  const url = `${server.url}/demo/token?user=${user}`;
  return `${JSON.stringify(process.execPath)} -e "fetch('${url}').then((r) => r.text()).then((t) => process.stdout.write(t))"`;
}

describe('refusals', () => {
  test('no token: refused 401, the server\'s reason and where to get a token are printed, exit 1 at once (no retries)', async () => {
    const cli = startConnect([server.wsUrl()]);
    assert.equal(await cli.next(/^refused/), 'refused 401 Unauthorized: not reconnecting: retrying cannot help without new credentials');
    const reason = await cli.next(/^ {2}server said:/);
    assert.match(reason, /token/i, 'the server\'s own words about the missing token');
    const hint = await cli.next(/^ {2}pass --token/);
    assert.ok(hint.includes(`${server.url}/demo/token?user=NAME`), hint);
    const exit = await cli.exited();
    assert.equal(exit.code, 1);
    // "At once" as a count, not a wall-clock bound a busy machine can break: one attempt, no retry.
    assert.equal(cli.lines().filter((line) => line.startsWith('connecting')).length, 1, 'one attempt, ended without retrying');
    assert.doesNotMatch(cli.cli.stdout(), /retry 1 of/);
    assert.doesNotMatch(cli.cli.stdout(), /a fixed --token is sent again/);
  });

  test('a fixed token that is refused is not sent again: one refusal, its reason, exit 1', async () => {
    const cli = startConnect([server.wsUrl(), '--token', 'not.a.jwt']);
    assert.equal(await cli.next(/^refused/), 'refused 401 Unauthorized: not reconnecting: retrying cannot help without new credentials');
    await cli.next(/^ {2}server said: \S/);
    assert.match(await cli.next(/^ {2}the credentials sent were refused/), /--token-command/);
    assert.equal((await cli.exited()).code, 1);
    assert.equal(cli.lines().filter((line) => line.startsWith('connecting')).length, 1, 'one attempt');
  });

  test('--token-command runs before every attempt: a refused token is replaced by the next run\'s', async () => {
    const counter = join(dir, 'runs');
    const script = join(dir, 'token.sh');
    // The first run prints a bad token, later ones a real one.
    await writeFile(script, `echo run >> ${JSON.stringify(counter)}\nif [ "$(wc -l < ${JSON.stringify(counter)})" -le 1 ]; then echo bad.token.here; else ${fetchTokenCommand('ann')}; fi\n`);
    const cli = startConnect([server.wsUrl(), '--protocol', 'lifeline.v1', '--token-command', `sh ${JSON.stringify(script)}`]);
    await cli.next(/^auth required \(401\): the server wants fresh credentials; --token-command runs again/);
    assert.match(await cli.next(/^refused/), /^refused 401 Unauthorized: reconnecting in /);
    await cli.next(/^ready/);
    cli.end();
    assert.equal((await cli.exited()).code, 0);
    assert.equal((await readFile(counter, 'utf8')).trim().split('\n').length, 2);
  });

  test('--token and --token-command together are a usage error', async () => {
    const cli = startConnect([server.wsUrl(), '--token', 'a', '--token-command', 'echo b']);
    assert.equal((await cli.exited()).code, 2);
    assert.match(cli.cli.stderr(), /--token and --token-command cannot be given together/);
  });
});

describe('typing into a demo server (lifeline.v1)', () => {
  test('plain lines are explained and never sent (no invalid-message close); a publish of the wrong shape says what the demo wants', async () => {
    const cli = startConnect([server.wsUrl(), '--protocol', 'lifeline.v1', '--token-command', fetchTokenCommand('bea')]);
    await cli.next(/^ready/);
    // More lines than the server's default invalid-message limit (10 a minute).
    for (let i = 0; i < 12; i++) cli.send(`hello ${i}`);
    for (let i = 0; i < 12; i++) assert.match(await cli.next(/^error send/), /not sent: a lifeline\.v1 server takes only protocol messages; publish with \/pub/);
    cli.send('/pub chat:lobby {"text":"hi"}');
    const refused = await cli.next(/^error publish chat:lobby/);
    assert.match(refused, /forbidden/);
    assert.ok(refused.includes('{"user":"bea","text":'), refused);
    cli.send('/pub chat:lobby {"user":"bea","text":"hi"}');
    await cli.next(/^ack chat:lobby offset \d+/);
    assert.doesNotMatch(cli.cli.stdout(), /^closed/m, 'still connected');
    cli.end();
    assert.equal((await cli.exited()).code, 0);
  });
});

/** Whether `pid` still runs (a zombie waiting for its parent to reap it has stopped running). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('--token-command and the end of the session', () => {
  test('Ctrl-C while the token command runs: it and what it started are killed, nothing outlives the CLI', async () => {
    const file = join(dir, 'token-command-pids');
    // The shell writes its own pid and its child's, then waits for the child.
    const cli = startConnect([server.wsUrl(), '--token-command', `sleep 120 & echo $$ $! > ${JSON.stringify(file)}; wait; echo too-late`]);
    let pids: number[] = [];
    try {
      await eventually(async () => {
        const text = await readFile(file, 'utf8').catch(() => '');
        pids = text.endsWith('\n') ? text.trim().split(' ').map(Number) : [];
        return pids.length === 2;
      }, 'the token command to start');
      assert.ok(pids.every(running), 'the token command runs while the CLI waits for it');
      cli.cli.child.kill('SIGINT');
      const exit = await cli.exited();
      assert.equal(exit.code, 0);
      await eventually(() => !pids.some(running), `the token command's processes (${pids.join(', ')}) to be gone`, 5_000);
    } finally {
      for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
