/**
 * Browser builds of the client with esbuild, as a user's bundler would make them.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
export const clientEntry = fileURLToPath(new URL('../../src/client/index.ts', import.meta.url));
export const nodeClientEntry = fileURLToPath(new URL('../../src/client/node.ts', import.meta.url));
const harnessEntry = fileURLToPath(new URL('./page-harness.ts', import.meta.url));

const browserBuild = { bundle: true, platform: 'browser', write: false, logLevel: 'silent', target: 'es2022' } as const satisfies BuildOptions;

export interface Bundle {
  readonly code: string;
  /** Every source file that went into the bundle, relative to the project root. */
  readonly inputs: readonly string[];
  /** The inputs that left code in the output (tree shaking dropped the others). */
  readonly shipped: readonly string[];
}

async function bundle(options: BuildOptions): Promise<Bundle> {
  const result = await build({ ...browserBuild, ...options, absWorkingDir: projectRoot, metafile: true });
  const [file, ...rest] = result.outputFiles ?? [];
  if (!file || rest.length > 0) throw new Error('expected exactly one output file');
  const outputs = Object.values(result.metafile?.outputs ?? {});
  const shipped = outputs.flatMap((output) => Object.entries(output.inputs).flatMap(([input, { bytesInOutput }]) => (bytesInOutput > 0 ? [input] : [])));
  return { code: file.text, inputs: Object.keys(result.metafile?.inputs ?? {}), shipped };
}

async function single(options: BuildOptions): Promise<string> {
  return (await bundle(options)).code;
}

/** An entry (default: the client's browser entry) as a classic script exposing `window.Lifeline`. */
export function bundleClient(entry = clientEntry): Promise<Bundle> {
  return bundle({ entryPoints: [entry], format: 'iife', globalName: 'Lifeline' });
}

/** The in-page test harness (it reads `window.Lifeline` at run time and bundles no client code). */
export function bundleHarness(): Promise<string> {
  return single({ entryPoints: [harnessEntry], format: 'iife' });
}

/** A minified ES module bundle with the given source as entry. */
export function minifiedBundle(source: string): Promise<Bundle> {
  return bundle({ stdin: { contents: source, resolveDir: projectRoot, loader: 'ts', sourcefile: 'entry.ts' }, format: 'esm', minify: true });
}

/** Minified then gzipped size, in bytes, of an ES module bundle with the given source as entry. */
export async function minifiedGzipSize(source: string): Promise<number> {
  return gzipSync((await minifiedBundle(source)).code).length;
}

const nodeOnly = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`), 'ws']);

/** The Node-only modules a bundle still `require`s (esbuild leaves unresolvable externals as require calls). */
export function nodeRequires(code: string): string[] {
  const found = new Set<string>();
  for (const match of code.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)) {
    const name = match[1];
    if (name !== undefined && (nodeOnly.has(name) || name.startsWith('node:') || nodeOnly.has(name.split('/')[0] ?? ''))) found.add(name);
  }
  return [...found];
}
