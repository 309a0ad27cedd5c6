/**
 * The layering rules of eslint.config.js are on: an import across a forbidden arrow fails lint,
 * an allowed one passes (docs/topics/architecture.md).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: fileURLToPath(new URL('../..', import.meta.url)) });

/** The messages of no-restricted-imports for `source` linted as if it were the file at `path`. */
async function refusals(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path });
  return (result?.messages ?? []).filter((message) => message.ruleId === 'no-restricted-imports').map((message) => message.message);
}

describe('layering lint rules', () => {
  const forbidden: readonly (readonly [path: string, source: string])[] = [
    ['src/client/wrong.ts', "import { LifelineServer } from '../server/server.js';\nexport { LifelineServer };\n"],
    ['src/client/wrong.ts', "import type { RedisBroker } from '../redis/redis-broker.js';\nexport type { RedisBroker };\n"],
    ['src/standalone/wrong.ts', "import { serveSchemas } from '../cli/serve-options.js';\nexport { serveSchemas };\n"],
    ['src/core/wrong.ts', "import { randomUUID } from 'node:crypto';\nexport { randomUUID };\n"],
    ['src/core/wrong.ts', "import { WebSocket } from 'ws';\nexport { WebSocket };\n"],
    ['src/core/wrong.ts', "import { Connection } from '../server/connection.js';\nexport { Connection };\n"],
    ['src/protocol/wrong.ts', "import { EventEmitter } from 'events';\nexport { EventEmitter };\n"],
    ['src/protocol/wrong.ts', "import type { Broker } from '../broker/broker.js';\nexport type { Broker };\n"],
  ];
  for (const [path, source] of forbidden) {
    test(`${path}: ${source.split('\n')[0]} fails`, async () => {
      const messages = await refusals(path, source);
      assert.equal(messages.length, 1, `one refusal, got ${JSON.stringify(messages)}`);
      assert.match(messages[0] ?? '', /architecture\.md/);
    });
  }

  const allowed: readonly (readonly [path: string, source: string])[] = [
    ['src/client/right.ts', "import { CloseCode } from '../core/close-codes.js';\nexport { CloseCode };\n"],
    ['src/protocol/right.ts', "import { CloseCode } from '../core/close-codes.js';\nexport { CloseCode };\n"],
    ['src/standalone/right.ts', "import { LifelineServer } from '../server/server.js';\nexport { LifelineServer };\n"],
    ['src/server/protocol/right.ts', "import type { Broker } from '../../broker/broker.js';\nexport type { Broker };\n"],
  ];
  for (const [path, source] of allowed) {
    test(`${path}: ${source.split('\n')[0]} passes`, async () => {
      assert.deepEqual(await refusals(path, source), []);
    });
  }
});
