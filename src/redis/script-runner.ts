import { createHash } from 'node:crypto';
import { BrokerUnavailableError } from '../core/errors.js';
import { answeredWithin } from './answered-within.js';

export type SendCommand = (args: readonly string[]) => Promise<unknown>;

/**
 * Runs commands and Lua scripts (by their SHA1, EVALSHA, loading a script with EVAL the first
 * time a server does not know it: a new server, or one restarted empty). A connection failure
 * or timeout is reported as a LifelineError `ERR_BROKER_UNAVAILABLE`, and so is a write a full
 * Redis refused (`OOM`, over `maxmemory` with `noeviction`: the script stopped at its first write,
 * so nothing was written and a later try may succeed) or refused whole for now (`LOADING`,
 * `READONLY`, `CLUSTERDOWN`, `NOREPLICAS`, `BUSY`...: `sent` false, it did not run); any other error Redis itself answered (a
 * bug, or a foreign key under the prefix) passes through as it is.
 */
export class ScriptRunner {
  readonly #shas = new Map<string, string>();

  /** A command went unanswered past the timeout and none has been answered since: Redis hangs. */
  #stalled = false;

  constructor(
    readonly command: SendCommand,
    private readonly isAnswer: (error: unknown) => boolean,
    /** A command not answered within this fails (real time: this is I/O), ms. */
    private readonly timeout: number,
    /**
     * The command surely did not run: the client refused it before writing it (offline, or closed), or
     * Redis refused it whole for now (a server loading its data, a Cluster slot moving or failing over).
     */
    private readonly isUnsent: (error: unknown) => boolean = () => false,
    /** Told each time a command goes unanswered past the timeout (Redis is taken as hung from then on). */
    private readonly onStall: () => void = () => undefined,
  ) {}

  get stalled(): boolean {
    return this.#stalled;
  }

  async send(args: readonly string[]): Promise<unknown> {
    try {
      const reply = await answeredWithin(this.command(args), this.timeout, () => {
        this.#stalled = true;
        this.onStall();
      });
      this.#stalled = false;
      return reply;
    } catch (error) {
      if (this.isAnswer(error)) {
        this.#stalled = false;
        if (isOutOfMemory(error)) throw new BrokerUnavailableError(`Redis is full (maxmemory) and refused the write: ${error.message}`, false, { cause: error });
        throw error;
      }
      throw new BrokerUnavailableError(`Redis is unreachable: ${error instanceof Error ? error.message : String(error)}`, !this.isUnsent(error), { cause: error });
    }
  }

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

/**
 * Redis over `maxmemory` refused a command that would grow it (a script: at its first write, so
 * it wrote nothing). Redis 7 keeps the `OOM` code of a script's failed call; older versions wrap
 * the same text in an `ERR Error running script` reply.
 */
function isOutOfMemory(error: unknown): error is Error {
  return error instanceof Error && /^OOM |OOM command not allowed/.test(error.message);
}
