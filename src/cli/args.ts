import { parseArgs, type ParseArgsConfig } from 'node:util';

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

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type ValuesOf<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>['values'];

/**
 * `lifeline COMMAND URL [flags]`: the flags, and exactly one URL (`example` shows one in the
 * error when it is missing).
 */
export function parseUrlCommand<O extends OptionsConfig>(
  argv: readonly string[],
  options: O,
  example: string,
): { readonly kind: 'ok'; readonly values: ValuesOf<O>; readonly url: string } | { readonly kind: 'help' } | { readonly kind: 'error'; readonly message: string } {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    return parseFailure(error);
  }
  const { values, positionals } = parsed;
  if ((values as Record<string, unknown>).help === true) return { kind: 'help' };
  if (positionals.length === 0) return { kind: 'error', message: `missing URL (e.g. ${example})` };
  if (positionals.length > 1) return { kind: 'error', message: `one URL only (got ${positionals.map((p) => `"${p}"`).join(', ')})` };
  return { kind: 'ok', values, url: positionals[0] ?? '' };
}
