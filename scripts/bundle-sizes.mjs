// Where the client's bundle bytes go: for a bare `ReconnectingWebSocket` and for `LifelineClient`
// with a subscription (the two cases test/browser/bundle.test.ts holds to budgets), the
// min+gz size and, from esbuild's metafile, each source file's minified bytes in the output.
// Usage: node scripts/bundle-sizes.mjs
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const cases = {
  'ReconnectingWebSocket alone': `export { ReconnectingWebSocket } from './src/client/index.ts';`,
  'LifelineClient with a subscription': `import { LifelineClient } from './src/client/index.ts';\nexport const client = new LifelineClient('wss://example.com/ws');\nexport const sub = client.subscribe('room');`,
};

for (const [name, contents] of Object.entries(cases)) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  console.log(`${name}: ${gzipSync(code).length} B min+gz (${code.length} B min)`);
  const [output] = Object.values(result.metafile.outputs);
  const files = Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0);
  for (const [file, input] of files.sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) console.log(`  ${String(input.bytesInOutput).padStart(6)}  ${file}`);
}
