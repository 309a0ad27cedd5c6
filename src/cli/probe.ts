import { ExitCode, type CliIo, type Command } from './command.js';
import { probeHelp } from './help.js';
import { parseProbeArgs } from './probe-options.js';
import { renderJson, renderText } from './probe-report.js';
import { observe } from './probe-timing.js';
import { judge } from './probe-verdict.js';

export const probeCommand: Command = {
  name: 'probe',
  summary: 'diagnose a WebSocket endpoint: timings, handshake status and headers, ping, close',
  run: probe,
};

/** `lifeline probe URL`: one connection, each step timed and explained; exit 0 only when healthy. */
async function probe(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseProbeArgs(argv);
  if (parsed.kind === 'help') {
    io.stdout.write(probeHelp());
    return ExitCode.OK;
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`lifeline probe: ${parsed.message}; see lifeline probe --help\n`);
    return ExitCode.USAGE;
  }
  const { target, timeout, json } = parsed.value;
  const observation = await observe({ target, timeout });
  const verdict = judge(observation, Date.now());
  io.stdout.write(json ? renderJson(observation, verdict) : renderText(observation, verdict));
  return verdict.verdict === 'healthy' ? ExitCode.OK : ExitCode.FAILURE;
}
