import { readFileSync } from 'node:fs';
import { ExitCode, type CliIo, type Command } from './command.js';
import { mainHelp } from './help.js';
import { serveCommand } from './serve.js';
import { connectCommand } from './connect.js';
import { probeCommand } from './probe.js';

/** The dispatch table: a new subcommand (connect, probe) is one entry here. */
const commands: ReadonlyMap<string, Command> = new Map([serveCommand, connectCommand, probeCommand].map((command) => [command.name, command]));

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs `lifeline <command> ...argv` and resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  const help = (): string => mainHelp(version(), [...commands.values()]);
  if (first === undefined) {
    io.stderr.write(help());
    return ExitCode.USAGE;
  }
  if (first === '-h' || first === '--help') {
    io.stdout.write(help());
    return ExitCode.OK;
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(`${version()}\n`);
    return ExitCode.OK;
  }
  // `lifeline help serve` reads as well as `lifeline serve --help`.
  const [name, args] = first === 'help' && rest[0] !== undefined ? [rest[0], ['--help']] : [first, rest];
  if (name === 'help') {
    io.stdout.write(help());
    return ExitCode.OK;
  }
  const command = commands.get(name);
  if (command === undefined) {
    const known = [...commands.keys()].join(', ');
    io.stderr.write(`lifeline: unknown command "${name}" (commands: ${known}); see lifeline --help\n`);
    return ExitCode.USAGE;
  }
  return command.run(args, io);
}
