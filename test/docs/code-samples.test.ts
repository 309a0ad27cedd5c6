// Every TypeScript and JavaScript code block of README.md and docs/**/*.md, type-checked against
// the package's sources: each block is written out as a module of its own and the lot compiled in
// one strict program, `lifeline/server`, `lifeline/client` (its Node entry, a superset of the
// browser's), `lifeline/testing` and `lifeline/redis` mapped to src/. A block marked
// `<!-- sample: fragment -->` is skipped and counted; `<!-- sample: declare ... -->` comments
// before a block are put on its first line (test/helpers/doc-samples.ts).
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import ts from 'typescript';
import { markdownFiles, root, samples, type Sample } from '../helpers/doc-samples.js';

const dir = `${root}test-results/code-samples-${process.pid}/`;

after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * JavaScript reads an app's own payloads (typed `unknown` by the package) as it likes: in a `js`
 * block, "'e.data' is of type 'unknown'" and a property read on what narrowing left of it (`{}`)
 * are not mistakes. Everything else (an option, event or method the package does not have) is.
 */
function untypedPayload(diagnostic: ts.Diagnostic, files: ReadonlyMap<string, Sample>): boolean {
  if (files.get(diagnostic.file?.fileName ?? '')?.language !== 'js') return false;
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  return diagnostic.code === 18046 || (diagnostic.code === 2339 && message.endsWith("on type '{}'."));
}

/**
 * `addEventListener` takes any event name (as the DOM's does), so a misspelt one compiles: a
 * listener on a sample's string literal must resolve to the signature of a known event.
 */
function unknownEvents(program: ts.Program, files: ReadonlyMap<string, Sample>): string[] {
  const checker = program.getTypeChecker();
  const problems: string[] = [];
  for (const [name, sample] of files) {
    const source = program.getSourceFile(name);
    assert.ok(source, name);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && /^(add|remove)EventListener$/.test(node.expression.name.text)) {
        const [type] = node.arguments;
        const declaration = checker.getResolvedSignature(node)?.declaration;
        const parameter = declaration && !ts.isJSDocSignature(declaration) ? declaration.parameters[0] : undefined;
        if (type && ts.isStringLiteral(type) && parameter?.type?.kind === ts.SyntaxKind.StringKeyword) {
          const { line } = source.getLineAndCharacterOfPosition(type.getStart(source));
          problems.push(`${sample.doc}:${sample.line + line - 1}: no '${type.text}' event on ${checker.typeToString(checker.getTypeAtLocation(node.expression.expression))}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return problems;
}

test('sample markers: a fragment is skipped, declarations (on one line or several) go before the code', () => {
  const page = [
    '<!-- sample: fragment -->',
    '```ts',
    'send(data: string): void',
    '```',
    '',
    '<!-- sample: declare const url: string;',
    '  declare function show(x: unknown): void; -->',
    '<!-- sample: declare const n: number; -->',
    '```js',
    'show(url);',
    '```',
    '```sh',
    'npm test',
    '```',
  ].join('\n');
  assert.deepEqual(samples('page.md', page), [
    { doc: 'page.md', line: 3, language: 'ts', context: [], fragment: true, code: 'send(data: string): void' },
    { doc: 'page.md', line: 10, language: 'js', context: ['declare const url: string;   declare function show(x: unknown): void;', 'declare const n: number;'], fragment: false, code: 'show(url);' },
  ]);
});

test('every TypeScript and JavaScript sample in the docs compiles against the package', { timeout: 120_000 }, (t) => {
  const all = markdownFiles().flatMap((doc) => samples(doc));
  const skipped = all.filter((sample) => sample.fragment);
  const checked = all.filter((sample) => !sample.fragment);
  t.diagnostic(`${checked.length} samples checked, ${skipped.length} skipped as fragments: ${skipped.map((s) => `${s.doc}:${s.line}`).join(', ') || 'none'}`);
  assert.ok(checked.length >= 18, `only ${checked.length} samples found`);

  mkdirSync(dir, { recursive: true });
  const files = new Map<string, Sample>();
  for (const sample of checked) {
    const name = `${dir}${sample.doc.replace(/[/.]/g, '_')}_${sample.line}.${sample.language}`;
    // The context takes the first line (its declarations on it), so the sample's lines keep their numbers + 1.
    writeFileSync(name, `${sample.context.join(' ')}\n${sample.code}\nexport {};\n`);
    files.set(name, sample);
  }

  const config = ts.getParsedCommandLineOfConfigFile(`${root}tsconfig.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')) });
  assert.ok(config);
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    declaration: false,
    rootDir: root,
    allowJs: true,
    checkJs: true,
    skipLibCheck: false,
    types: ['node'],
    paths: {
      'lifeline/server': [`${root}src/server/index.ts`],
      'lifeline/client': [`${root}src/client/node.ts`],
      'lifeline/testing': [`${root}src/testing/index.ts`],
      'lifeline/redis': [`${root}src/redis/index.ts`],
    },
  };
  const program = ts.createProgram([...files.keys()], options);
  const problems = ts.getPreEmitDiagnostics(program).filter((diagnostic) => !untypedPayload(diagnostic, files)).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const file = diagnostic.file;
    if (!file || diagnostic.start === undefined) return message;
    const { line } = file.getLineAndCharacterOfPosition(diagnostic.start);
    const sample = files.get(file.fileName);
    if (!sample) return `${file.fileName}:${line + 1}: ${message}`;
    return `${sample.doc}:${sample.line + line - 1}: ${message}`;
  });
  assert.deepEqual([...problems, ...unknownEvents(program, files)], []);
});
