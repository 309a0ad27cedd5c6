// Bundles the demo page's script (src/demo/page.ts, which imports the real client from
// src/client/) into dist/demo/public/client.js for the browser. Run by scripts/build.mjs.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  entryPoints: [`${root}src/demo/page.ts`],
  outfile: `${root}dist/demo/public/client.js`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'none',
  // The page must run the same client the package ships, so nothing is swapped or stubbed.
  logLevel: 'warning',
});
