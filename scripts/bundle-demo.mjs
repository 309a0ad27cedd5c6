// Bundles the scripts of the pages `lifeline serve` serves into dist/demo/public/: the demo page
// (src/demo/page.ts, which imports the real client from src/client/) as client.js, and the
// admin page (src/demo/admin/admin-page.ts) as admin.js. Run by scripts/build.mjs.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  entryPoints: {
    client: `${root}src/demo/page.ts`,
    admin: `${root}src/demo/admin/admin-page.ts`,
  },
  outdir: `${root}dist/demo/public`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'none',
  // The page must run the same client the package ships, so nothing is swapped or stubbed.
  logLevel: 'warning',
});
