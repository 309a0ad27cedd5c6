import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scratch/**'] },
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
  {
    files: ['scripts/**', 'bench/**', '*.js', 'test/**/*.mjs', 'test/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
);
