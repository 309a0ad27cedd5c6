import { spawn } from 'node:child_process';

/** A token command that has not answered within this has failed, ms. */
const TOKEN_COMMAND_TIMEOUT = 15_000;

/**
 * The token in what a `--token-command` printed: the output itself, or the `token` field when
 * it printed JSON (so `curl -s 'http://host/demo/token?user=ann'` works as it is). Pure.
 */
export function tokenFromOutput(output: string): string {
  const text = output.trim();
  let token = text;
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('--token-command printed something like JSON that does not parse');
    }
    const field = (parsed as { token?: unknown } | null)?.token;
    if (typeof field !== 'string') {
      // A token service's refusal (a demo server's 400 for a bad visitor, say) says why.
      const refusal = errorMessage((parsed as { error?: unknown } | null)?.error);
      throw new Error(refusal === undefined ? '--token-command printed JSON without a "token" string' : `--token-command printed an error instead of a token: ${refusal}`);
    }
    token = field;
  }
  if (token === '') throw new Error('--token-command printed nothing');
  if (/[\s\0]/.test(token)) throw new Error('--token-command printed more than one token (whitespace inside)');
  return token;
}

/** `"text"` or `{ "message": "text" }` (the shapes of an HTTP API's error field), first line only. */
function errorMessage(error: unknown): string | undefined {
  const message = typeof error === 'string' ? error : (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' && message.trim() !== '' ? message.trim().split('\n')[0] : undefined;
}

/** What a token command may print, bytes; more is a failure. */
const MAX_OUTPUT = 64 * 1024;

/**
 * Runs `command` with the shell and resolves with the token it printed. The command runs in a
 * session of its own (no terminal: it cannot prompt, and it reads no input), and its whole
 * process group is killed when it times out, prints too much, or `signal` aborts (the session
 * ended, Ctrl-C): nothing it started outlives the wait for it. (On a terminal, `connect` reads
 * keys itself, so Ctrl-C never reaches the command as a signal from the terminal.)
 */
export function runTokenCommand(command: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let stopped: string | undefined;
    let stdout = '';
    let stderr = '';
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = (why: string): void => {
      stopped ??= why;
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    };
    const onAbort = (): void => stop('stopped');
    const timer = setTimeout(() => stop('timed out'), TOKEN_COMMAND_TIMEOUT);
    const collect = (append: (text: string) => void) => (text: string) => {
      append(text);
      if (stdout.length + stderr.length > MAX_OUTPUT) stop(`printed more than ${MAX_OUTPUT} bytes`);
    };
    child.stdout.setEncoding('utf8').on('data', collect((text) => (stdout += text)));
    child.stderr.setEncoding('utf8').on('data', collect((text) => (stderr += text)));
    child.once('error', (error) => stop(error.message));
    child.once('close', (code, killedBy) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (stopped !== undefined || code !== 0) {
        const detail = stderr.trim().split('\n')[0];
        reject(new Error(`--token-command failed (${stopped ?? `exit ${String(code ?? killedBy)}`})${detail ? `: ${detail}` : ''}`));
        return;
      }
      try {
        resolve(tokenFromOutput(stdout));
      } catch (failure) {
        reject(failure instanceof Error ? failure : new Error(String(failure)));
      }
    });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
