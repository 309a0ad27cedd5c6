import { createInterface, type Interface } from 'node:readline';
import { ExitCode, type CliIo, type Command } from './command.js';
import { parseCommand } from './connect-commands.js';
import { parseConnectArgs } from './connect-options.js';
import { formatJson, formatText, type ConnectEvent } from './connect-printer.js';
import { ConnectSession } from './connect-session.js';
import { connectHelp } from './help.js';
import type { SignalSource } from './shutdown.js';

export const connectCommand: Command = {
  name: 'connect',
  summary: 'an interactive, reconnecting client: type messages, watch the lifecycle',
  run: (argv, io) => connect(argv, io),
};

interface Tty {
  readonly isTTY?: boolean;
}

/**
 * `lifeline connect URL`: lines typed on stdin are commands or messages, every event is printed
 * on stdout. On a terminal it shows a prompt; piped, it prints what it sends (`> text`) too, so
 * a transcript reads as a conversation.
 */
export async function connect(argv: readonly string[], io: CliIo, signals: SignalSource = process): Promise<number> {
  const parsed = parseConnectArgs(argv);
  if (parsed.kind === 'help') {
    io.stdout.write(connectHelp());
    return ExitCode.OK;
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`lifeline connect: ${parsed.message}; see lifeline connect --help\n`);
    return ExitCode.USAGE;
  }
  const config = parsed.value;
  const input = io.stdin;
  const interactive = !config.json && (input as Tty | undefined)?.isTTY === true && (io.stdout as Tty).isTTY === true;
  let prompt: Interface | undefined;
  /** The reader of our output went away (`| head -n 5` has what it wanted). */
  let outputGone = false;

  const print = (event: ConnectEvent): void => {
    if (outputGone) return;
    if (config.json) {
      io.stdout.write(`${formatJson(event)}\n`);
      return;
    }
    // On a terminal the line just typed is already on screen.
    if (interactive && event.type === 'sent') return;
    const text = `${formatText(event).join('\n')}\n`;
    if (!prompt) {
      io.stdout.write(text);
      return;
    }
    // Print above the prompt, then redraw it with what was typed so far.
    io.stdout.write('\r\x1b[2K');
    io.stdout.write(text);
    prompt.prompt(true);
  };

  const session = new ConnectSession(config, print);
  // A write to a closed pipe (EPIPE) fails on the stream, where no listener meant a crash with
  // a stack trace: the session closes cleanly instead, as on Ctrl-C, and exits 0.
  const onOutputError = (): void => {
    if (outputGone) return;
    outputGone = true;
    session.interrupt();
  };
  io.stdout.on('error', onOutputError);
  // This command lives for its session, whatever the client waits for (a retry, a pause, an
  // answer): nothing else may be pending meanwhile.
  const keepAlive = setInterval(() => undefined, 60_000);
  let interrupts = 0;
  let interrupted!: (code: number) => void;
  const abandoned = new Promise<number>((resolve) => (interrupted = resolve));
  const onSignal = (): void => {
    // First Ctrl-C: close cleanly. A second one: stop waiting for the server.
    if (++interrupts === 1) session.interrupt();
    else interrupted(ExitCode.FAILURE);
  };
  signals.on('SIGINT', onSignal);

  if (input) {
    const lines = createInterface({ input, output: interactive ? io.stdout : undefined, terminal: interactive });
    if (interactive) {
      prompt = lines;
      lines.setPrompt('> ');
      lines.on('SIGINT', onSignal);
    }
    lines.on('line', (line) => {
      session.run(parseCommand(line));
      prompt?.prompt(true);
    });
    lines.once('close', () => session.finish());
    void session.ended.finally(() => lines.close());
  } else session.finish();

  const code = await Promise.race([session.ended, abandoned]);
  // Abandoned: what the session still runs (a --token-command) is stopped before the exit.
  session.dispose();
  clearInterval(keepAlive);
  signals.off('SIGINT', onSignal);
  if (interactive) io.stdout.write('\r\x1b[2K');
  return code;
}
