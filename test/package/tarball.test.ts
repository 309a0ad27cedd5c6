/**
 * The package as a team gets it: `npm pack`, then publint and @arethetypeswrong/cli on the
 * tarball, then an install into a temporary project with no network beyond npm's cache (its
 * lockfile is made from this repository's, so `npm ci --offline` finds every tarball there), a
 * consumer type-checked with skipLibCheck: false under `nodenext`, `bundler` and `node10`, a
 * server and a client run from the installed package over real sockets, `lifeline serve --demo`
 * from its bin, and `lifeline/client` bundled for the browser with no Node built-ins in it.
 *
 * `npm test` has built dist/ already; packing runs with --ignore-scripts so the `prepack` build
 * does not rebuild dist/ under the other test files (the test checks that `prepack` builds).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { killProcess, spawnTracked } from '../helpers/processes.js';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TEMPLATE = fileURLToPath(new URL('./consumer/', import.meta.url));
const BIN = join(ROOT, 'node_modules/.bin');

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a command to its end (killed past `ms`, generous: a type check with skipLibCheck: false takes minutes on a loaded machine). */
async function run(command: string, args: readonly string[], cwd: string, ms = 240_000): Promise<Run> {
  const child = spawnTracked(command, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  child.stdin.end();
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const closed = new Promise<Run>((resolve) => child.once('close', (code) => resolve({ code, output })));
  try {
    return await within(closed, ms, `${command} ${args.join(' ')}`);
  } finally {
    await killProcess(child);
  }
}

async function succeeds(command: string, args: readonly string[], cwd: string, ms?: number): Promise<string> {
  const result = await run(command, args, cwd, ms);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed:\n${result.output}`);
  return result.output;
}

interface LockEntry {
  readonly version?: string;
  readonly dev?: boolean;
  readonly devOptional?: boolean;
  readonly [key: string]: unknown;
}

interface PackageJson {
  readonly name: string;
  readonly version: string;
  readonly license: string;
  readonly engines: Record<string, string>;
  readonly bin: Record<string, string>;
  readonly scripts: Record<string, string>;
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/**
 * A lockfile for a project that depends on the tarball alone: the tarball's entry, plus the
 * runtime part of this repository's lockfile (same versions, same integrity hashes), which
 * `npm ci` in this repository has put in npm's cache.
 */
function consumerLock(tarball: string, tarballBytes: Buffer): object {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const runtime = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && entry.dev !== true && entry.devOptional !== true);
  const dependency = `file:${tarball}`;
  return {
    name: 'lifeline-consumer',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'lifeline-consumer', dependencies: { lifeline: dependency } },
      'node_modules/lifeline': {
        version: pkg.version,
        resolved: dependency,
        integrity: `sha512-${createHash('sha512').update(tarballBytes).digest('base64')}`,
        license: pkg.license,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
        engines: pkg.engines,
      },
      ...Object.fromEntries(runtime),
    },
  };
}

// The checks only read the tarball and the installed project: they run side by side.
describe('the published package', { timeout: 600_000, concurrency: true }, () => {
  let dir = '';
  let tarball = '';
  let files: string[] = [];
  let project = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-pack-'));
    const packed = JSON.parse(await succeeds('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as { filename: string; files: { path: string }[] }[];
    tarball = packed[0]?.filename ?? '';
    files = (packed[0]?.files ?? []).map((file) => file.path).sort();
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('`prepack` builds, so `npm pack` from a fresh clone ships dist/', () => {
    assert.match(pkg.scripts.prepack ?? '', /scripts\/build\.mjs/);
  });

  test('the tarball holds ESM JavaScript, declarations, the demo page assets, README, LICENSE and CHANGELOG; no source maps', () => {
    for (const required of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/server/index.js', 'dist/server/index.d.ts', 'dist/client/index.js', 'dist/client/node.d.ts', 'dist/cli/main.js']) {
      assert.ok(files.includes(required), `${required} is packed`);
    }
    const stray = files.filter((path) => !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(path) && !/^dist\/.*\.(js|d\.ts)$/.test(path) && !path.startsWith('dist/demo/public/'));
    assert.deepEqual(stray, [], 'nothing but what users need');
    assert.deepEqual(files.filter((path) => path.endsWith('.map') || path.includes('.test.')), [], 'no source maps or tests');
  });

  test('the public types stand alone: @types/ws is a dependency; Node >= 20 is what engines says', () => {
    assert.equal(typeof pkg.dependencies['@types/ws'], 'string');
    assert.equal(pkg.devDependencies['@types/ws'], undefined);
    assert.equal(pkg.engines.node, '>=20');
  });

  test('publint --strict passes on the tarball', async () => {
    await succeeds(join(BIN, 'publint'), ['run', join(dir, tarball), '--strict'], ROOT);
  });

  test('@arethetypeswrong/cli passes on the tarball (ESM only: node10 types, node16 from ESM, and bundler)', async () => {
    // A require() of an ESM-only package is the one finding allowed: there is no CommonJS build.
    await succeeds(join(BIN, 'attw'), [join(dir, tarball), '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'table-flipped'], ROOT);
  });

  describe('installed offline into a new project', { concurrency: true }, () => {
    before(async () => {
      project = join(dir, 'consumer');
      cpSync(TEMPLATE, project, { recursive: true });
      const bytes = readFileSync(join(dir, tarball));
      cpSync(join(dir, tarball), join(project, tarball));
      writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'lifeline-consumer', private: true, type: 'module', dependencies: { lifeline: `file:${tarball}` } }, null, 2)}\n`);
      writeFileSync(join(project, 'package-lock.json'), `${JSON.stringify(consumerLock(tarball, bytes), null, 2)}\n`);
      await succeeds('npm', ['ci', '--offline', '--no-audit', '--no-fund'], project);
    });

    for (const mode of ['nodenext', 'bundler', 'node10']) {
      test(`a consumer type-checks with skipLibCheck: false under ${mode}`, async () => {
        await succeeds(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', `tsconfig.${mode}.json`], project);
      });
    }

    test('a server and a client from the installed package talk over a real socket', async () => {
      const output = await succeeds(process.execPath, ['run.mjs'], project, 30_000);
      const line = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as { received?: unknown; port?: number };
      assert.deepEqual(line.received, { text: 'hello from the tarball' });
      assert.ok(typeof line.port === 'number' && line.port > 0);
    });

    test('the lifeline bin runs from the installed package', async () => {
      const output = await succeeds(join(project, 'node_modules/.bin/lifeline'), ['--help'], project, 30_000);
      assert.match(output, /serve/);
    });

    test('`lifeline serve --demo --port 0` from the installed package answers /healthz and serves the demo page and its script', async () => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LIFELINE_')));
      const child = spawnTracked(join(project, 'node_modules/.bin/lifeline'), ['serve', '--demo', '--port', '0'], { cwd: project, env });
      child.stdin.end();
      let stdout = '';
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      try {
        const url = await within(
          new Promise<string>((resolve, reject) => {
            child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
              stdout += chunk;
              const match = /^listening on (http:\/\/\S+)\n/.exec(stdout);
              if (match?.[1] !== undefined) resolve(match[1]);
            });
            child.once('close', (code) => reject(new Error(`lifeline serve exited (${code}) before listening: ${stderr}`)));
          }),
          60_000,
          'lifeline serve to print "listening on"',
        );
        const health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(30_000) });
        assert.equal(health.status, 200);
        const page = await fetch(`${url}/`, { signal: AbortSignal.timeout(30_000) });
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<html/i);
        const script = await fetch(`${url}/client.js`, { signal: AbortSignal.timeout(30_000) });
        assert.equal(script.status, 200);
        assert.ok((await script.text()).length > 1000, 'the bundled demo client is served');
      } finally {
        await killProcess(child);
      }
    });

    test('bundled for the browser, lifeline/client pulls in no Node built-ins', async () => {
      const result = await within(
        build({ entryPoints: [join(project, 'browser-entry.js')], absWorkingDir: project, bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' }),
        60_000,
        'esbuild',
      );
      const inputs = Object.keys(result.metafile.inputs);
      assert.ok(inputs.some((input) => input.includes('node_modules/lifeline/dist/client/')), 'the installed package was bundled');
      const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
      const imported = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((entry) => entry.path));
      assert.deepEqual(imported.filter((path) => builtins.has(path)), [], 'no Node built-in imported');
      assert.deepEqual(inputs.filter((input) => /node_modules\/ws\//.test(input)), [], 'ws is not in the browser bundle');
      const code = result.outputFiles[0]?.text ?? '';
      assert.doesNotMatch(code, /\brequire\(["']|from ["']node:/, 'no require() or node: import in the bundle');
    });
  });
});
