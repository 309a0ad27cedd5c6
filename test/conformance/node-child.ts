/** Child process entry: runs the cases against undici's WebSocket and prints the results as JSON. */
import { runCases } from './run-cases.js';

const base = process.argv[2];
if (!base) throw new Error('usage: node-child.ts ws://host:port');
process.stdout.write(`${JSON.stringify(await runCases(base))}\n`);
