import { execFile } from 'node:child_process';

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
    if (typeof field !== 'string') throw new Error('--token-command printed JSON without a "token" string');
    token = field;
  }
  if (token === '') throw new Error('--token-command printed nothing');
  if (/[\s\0]/.test(token)) throw new Error('--token-command printed more than one token (whitespace inside)');
  return token;
}

/** Runs `command` with the shell and resolves with the token it printed. */
export function runTokenCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: TOKEN_COMMAND_TIMEOUT, maxBuffer: 64 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = String(stderr).trim().split('\n')[0];
        reject(new Error(`--token-command failed (${error.killed ? 'timed out' : `exit ${String(error.code)}`})${detail ? `: ${detail}` : ''}`));
        return;
      }
      try {
        resolve(tokenFromOutput(String(stdout)));
      } catch (failure) {
        reject(failure instanceof Error ? failure : new Error(String(failure)));
      }
    });
  });
}
