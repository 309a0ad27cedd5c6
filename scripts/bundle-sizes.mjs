// Where the client's bundle bytes go: for a bare `ReconnectingWebSocket` and for `LifelineClient`
// with a subscription (the two cases test/browser/bundle.test.ts holds to budgets), the
// min+gz size and, per source file, its minified bytes in the output (esbuild's metafile) and
// its marginal min+gz bytes: how much smaller the gzipped bundle is without that file's code
// (gzip shares repeated text across files, so the marginals add up to less than the total).
// Usage: node scripts/bundle-sizes.mjs
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build, transform } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const cases = {
  'ReconnectingWebSocket alone': `export { ReconnectingWebSocket } from './src/client/index.ts';`,
  'LifelineClient with a subscription': `import { LifelineClient } from './src/client/index.ts';\nexport const client = new LifelineClient('wss://example.com/ws');\nexport const sub = client.subscribe('room');`,
};
const options = { bundle: true, platform: 'browser', format: 'esm', target: 'es2022', write: false, logLevel: 'silent' };

/** min+gz of bundled code after a whole-file minify (as the budget test measures it). */
async function gzipped(code) {
  return gzipSync((await transform(code, { minify: true, loader: 'js', format: 'esm', target: 'es2022' })).code).length;
}

for (const [name, contents] of Object.entries(cases)) {
  const stdin = { contents, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' };
  const result = await build({ ...options, stdin, minify: true, metafile: true });
  const code = result.outputFiles[0].text;
  console.log(`${name}: ${gzipSync(code).length} B min+gz (${code.length} B min)`);
  // Unminified whitespace keeps esbuild's "// path" line before each file's code.
  const readable = (await build({ ...options, stdin, minifySyntax: true, minifyIdentifiers: true })).outputFiles[0].text;
  const parts = readable.split(/^(?=\/\/ (?:src|entry)\S*\n)/m);
  const whole = await gzipped(readable);
  const marginal = new Map();
  for (const [i, part] of parts.entries()) {
    const file = /^\/\/ (\S+)/.exec(part)?.[1];
    if (file) marginal.set(file, whole - (await gzipped(parts.filter((_, j) => j !== i).join(''))));
  }
  const [output] = Object.values(result.metafile.outputs);
  const files = Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0);
  console.log('     min  min+gz  file');
  for (const [file, input] of files.sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) {
    console.log(`  ${String(input.bytesInOutput).padStart(6)}  ${String(marginal.get(file) ?? '').padStart(6)}  ${file}`);
  }
}
