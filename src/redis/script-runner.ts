import { createHash } from 'node:crypto';

export type SendCommand = (args: readonly string[]) => Promise<unknown>;

/**
 * Runs Lua scripts by their SHA1 (EVALSHA), loading a script with EVAL the first time a server
 * does not know it (a new server, or one restarted empty).
 */
export class ScriptRunner {
  readonly #shas = new Map<string, string>();

  constructor(readonly send: SendCommand) {}

  async run(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const sha = this.#sha(script);
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send(['EVALSHA', sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.send(['EVAL', script, ...tail]);
    }
  }

  #sha(script: string): string {
    let sha = this.#shas.get(script);
    if (sha === undefined) this.#shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    return sha;
  }
}
