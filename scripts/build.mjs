// Compiles src/ to dist/ (JS + declarations), bundles the demo page's client, and marks the
// CLI executable. One command, so `npm start` and `npm test` build the same way.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.json`], { stdio: 'inherit' });
if (existsSync(`${root}src/demo/public`)) cpSync(`${root}src/demo/public`, `${root}dist/demo/public`, { recursive: true });
if (existsSync(`${root}scripts/bundle-demo.mjs`)) execFileSync(process.execPath, [`${root}scripts/bundle-demo.mjs`], { stdio: 'inherit' });
if (existsSync(`${root}dist/cli/main.js`)) chmodSync(`${root}dist/cli/main.js`, 0o755);
