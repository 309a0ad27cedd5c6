/** What a subcommand's argument parser concludes: run with these settings, show help, or refuse. */
export type ParseOutcome<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** Node's `util.parseArgs` error codes (its messages span several lines; ours must fit one). */
interface ParseArgsError {
  readonly code?: string;
  readonly message: string;
}

/** Turns a `util.parseArgs` exception into a one-line usage error. */
export function parseFailure(error: unknown): { readonly kind: 'error'; readonly message: string } {
  const { code, message } = error as ParseArgsError;
  const token = /'([^']+)'/.exec(message)?.[1] ?? '';
  const flag = token.split(' ')[0] ?? token;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return { kind: 'error', message: `unknown flag ${flag}` };
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return { kind: 'error', message: `unexpected argument "${flag}" (this command takes flags only)` };
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (message.includes('ambiguous')) return { kind: 'error', message: `${flag} needs a value (write ${flag}=VALUE for a value starting with "-")` };
      if (message.includes('missing')) return { kind: 'error', message: `${flag} needs a value` };
      return { kind: 'error', message: message.split('\n')[0] ?? message };
    default:
      throw error;
  }
}
