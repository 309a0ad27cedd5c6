#!/usr/bin/env node
// The `lifeline` bin. Everything testable lives in cli.ts; this file only binds it to the process.
import { once } from 'node:events';
import { runCli } from './cli.js';

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  // A getter: only a command that reads input opens stdin.
  get stdin() {
    return process.stdin;
  },
  env: process.env,
});
// Exit explicitly: a finished command must not linger on a stray handle, but only after
// stdout has been handed to the OS, so piped help text is never cut short.
// A stdout whose reader is gone (EPIPE) is destroyed and drains no more.
if (process.stdout.writableLength > 0 && !process.stdout.destroyed) await once(process.stdout, 'drain');
process.exit(code);
