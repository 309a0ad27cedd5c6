import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/ and what each may import (docs/topics/architecture.md). A folder not listed
 * for a layer is forbidden to it, so a wrong arrow fails `npm run lint`. `core` and `protocol`
 * are pure: no Node module, no WebSocket library, no logger, no Redis.
 */
const layers = {
  core: [],
  protocol: ['core'],
  broker: ['core', 'protocol'],
  server: ['core', 'protocol', 'broker'],
  redis: ['core', 'protocol', 'broker'],
  client: ['core', 'protocol'],
  testing: ['core', 'protocol', 'broker', 'server', 'client'],
  standalone: ['core', 'protocol', 'broker', 'server', 'redis'],
  cli: ['core', 'protocol', 'broker', 'server', 'redis', 'client', 'standalone'],
  demo: ['core', 'protocol', 'client'],
};
const pure = new Set(['core', 'protocol']);
const platformModules = ['ws', 'ws/*', 'pino', '@redis/*', 'cookie', ...builtinModules, 'node:*'];

function layerRules(layer, allowed) {
  const forbidden = Object.keys(layers).filter((other) => other !== layer && !allowed.includes(other));
  const may = allowed.length === 0 ? 'nothing outside itself' : `only ${allowed.map((a) => `src/${a}`).join(', ')}`;
  const patterns = [{ regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`, message: `src/${layer} may import ${may} (docs/topics/architecture.md).` }];
  if (pure.has(layer)) patterns.push({ group: platformModules, message: `src/${layer} is pure: no Node module, socket library, logger or Redis client (docs/topics/architecture.md).` });
  return { files: [`src/${layer}/**`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scratch/**', 'bench/.build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
        message: 'Inject an Rng instead of calling Math.random().',
      }],
    },
  },
  {
    // STYLE: the core and the adapters run on an injected Clock; only clock.ts reads the platform's.
    files: ['src/core/**', 'src/client/**', 'src/server/**', 'src/testing/**', 'src/redis/**'],
    ignores: ['src/core/clock.ts'],
    rules: {
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Use the injected Clock (or Timer).' },
        { name: 'setInterval', message: 'Use the injected Clock (or Timer).' },
        { name: 'clearTimeout', message: 'Use the injected Clock (or Timer).' },
      ],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Use the injected Clock.' }],
    },
  },
  ...Object.entries(layers).map(([layer, allowed]) => layerRules(layer, allowed)),
  {
    // The protocol core (src/protocol) is sans-I/O (its imports are held by the layer table above):
    // time, randomness and ids come in from its host (docs/topics/protocol-core.md).
    files: ['src/protocol/**'],
    rules: {
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Return a wait step; the host owns the timers.' },
        { name: 'setInterval', message: 'Return a wait step; the host owns the timers.' },
        { name: 'clearTimeout', message: 'Return a wait step; the host owns the timers.' },
        { name: 'Buffer', message: 'src/protocol does no I/O: inject what it needs.' },
        { name: 'crypto', message: 'Ids and secrets come from an injected source.' },
      ],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Use the injected Clock.' }],
    },
  },
  {
    files: ['scripts/**', 'bench/**', '*.js', 'test/**/*.mjs', 'test/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
);
