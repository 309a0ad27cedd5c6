/** Where a command reads and writes; injected so commands never touch `process` directly. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Input for interactive commands (`connect`); absent means no input (end of input at once). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** One `lifeline <name>` subcommand. Resolves with the process exit code. */
export interface Command {
  readonly name: string;
  /** One line for `lifeline --help`. */
  readonly summary: string;
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** Exit codes every command shares (documented in `lifeline --help`). */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
} as const;
