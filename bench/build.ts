// Bundles the benchmark's child processes (and the Lifeline source they import) with esbuild,
// so every server and client runs on plain `node`: no TypeScript loader thread in the
// processes whose CPU and memory are measured (it would add ~35 MB RSS to each).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface Bundle {
  readonly server: string;
  readonly client: string;
  readonly stormClient: string;
  /** The overload scenario's server, steady clients and flood (one script, three roles). */
  readonly overload: string;
  /** The bundled Redis broker module, when src/redis/ has a RedisBroker; else why not. */
  readonly redis: { readonly module: string } | { readonly unavailable: string };
  remove(): void;
}

/** The file under src/redis/ that exports the RedisBroker class, if it exists yet. */
function findRedisBroker(): string | undefined {
  const dir = join(root, 'src/redis');
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const preferred = ['index.ts', 'redis-broker.ts'].filter((f) => files.includes(f));
  for (const file of [...preferred, ...files]) {
    if (/export\s+(class\s+RedisBroker\b|\{[^}]*\bRedisBroker\b[^}]*\}|\*\s+from)/.test(readFileSync(join(dir, file), 'utf8'))) return join(dir, file);
  }
  return undefined;
}

/**
 * Serves Lifeline's source from another tree (`--src DIR`, a copy of src/ with a change to try),
 * so one harness can measure before and after.
 */
export function sourceTree(dir: string): Plugin {
  const ours = join(root, 'src') + sep;
  const theirs = resolve(dir);
  return {
    name: 'lifeline-source-tree',
    setup(plugin) {
      plugin.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === 'rewritten') return undefined;
        const found = await plugin.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: 'rewritten' });
        if (found.errors.length > 0 || !found.path.startsWith(ours)) return found;
        return { ...found, path: join(theirs, relative(ours, found.path)) };
      });
    },
  };
}

export async function bundleChildren(sourceDir?: string): Promise<Bundle> {
  const outdir = join(root, 'bench/.build', `${process.pid}-${Date.now()}`);
  mkdirSync(outdir, { recursive: true });
  const common = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'error',
    plugins: sourceDir === undefined ? [] : [sourceTree(sourceDir)],
  } as const;
  await build({
    ...common,
    entryPoints: {
      server: join(root, 'bench/children/server.ts'),
      client: join(root, 'bench/children/client.ts'),
      'storm-client': join(root, 'bench/children/storm-client.ts'),
      overload: join(root, 'bench/children/overload.ts'),
    },
    outdir,
  });
  let redis: Bundle['redis'] = { unavailable: 'src/redis/ has no RedisBroker yet' };
  const source = findRedisBroker();
  if (source) {
    try {
      await build({ ...common, entryPoints: { 'redis-broker': source }, outdir });
      redis = { module: join(outdir, 'redis-broker.js') };
    } catch (error) {
      redis = { unavailable: `src/redis/ does not build: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  const remove = (): void => rmSync(outdir, { recursive: true, force: true });
  process.once('exit', remove); // also when the run is interrupted
  return {
    server: join(outdir, 'server.js'),
    client: join(outdir, 'client.js'),
    stormClient: join(outdir, 'storm-client.js'),
    overload: join(outdir, 'overload.js'),
    redis,
    remove,
  };
}
