// docs/guarantees.md names, for each promise, the tests that hold Lifeline to it (and
// docs/topics/lifecycle.md, for each step, its code and tests)
// (`test/x.test.ts › a test's name`, `x.test.ts › …` for a file named before, `› …` for the
// last file named in the same row). Every cited file must exist and every cited name must be
// in it, so a renamed or deleted test cannot leave a promise pointing at nothing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [relative(root, path)];
  });
}

/** Every file under src/ and test/: a path with a slash may name code as well as a test. */
function sourceAndTestFiles(): string[] {
  return [...files(join(root, 'src')), ...files(join(root, 'test'))];
}

/** A cited name as the test file spells it: the part before an ellipsis, quotes as in source. */
function citedName(text: string): string {
  return text.split('…')[0]?.replace(/[;,]\s*$/, '').trim() ?? '';
}

/** The spans of one line of guarantees.md that cite a test file or a test in one. */
function citations(line: string, testFiles: readonly string[]): { file: string; name?: string }[] {
  const out: { file: string; name?: string }[] = [];
  let last: string | undefined;
  for (const [, span = ''] of line.matchAll(/`([^`]+)`/g)) {
    const match = /^(?:(\S+\.ts)\s*)?(?:›\s*(.*))?$/.exec(span.trim());
    if (!match || (!match[1] && match[2] === undefined)) continue;
    const [, fileText, nameText] = match;
    if (fileText) {
      const found = fileText.includes('/') ? sourceAndTestFiles().filter((file) => file === fileText) : testFiles.filter((file) => basename(file) === fileText);
      assert.equal(found.length, 1, `"${fileText}" names ${found.length} files under src/ or test/ (want exactly one)`);
      last = found[0];
    }
    if (last === undefined) assert.fail(`"${span}" continues a file, but none was named before it on its line`);
    out.push(nameText === undefined ? { file: last } : { file: last, name: citedName(nameText) });
  }
  return out;
}

/** The citations of one page that name no file, or a test its file does not have; and how many were checked. */
function unresolved(page: string): { missing: string[]; checked: number } {
  const testFiles = files(join(root, 'test')).filter((file) => file.endsWith('.ts'));
  const lines = readFileSync(join(root, page), 'utf8').split('\n');
  let checked = 0;
  const missing: string[] = [];
  for (const [index, line] of lines.entries()) {
    for (const { file, name } of citations(line, testFiles)) {
      checked++;
      if (name && !readFileSync(join(root, file), 'utf8').includes(name)) missing.push(`line ${index + 1}: ${file} › ${name}`);
    }
  }
  return { missing, checked };
}

test('every test docs/guarantees.md cites exists, under the name it is cited by', () => {
  const { missing, checked } = unresolved('docs/guarantees.md');
  assert.deepEqual(missing, []);
  // The page cites dozens of tests: finding few would mean the parsing missed them.
  assert.ok(checked >= 40, `only ${checked} citations found`);
});

test('every file and test the lifecycle map cites exists, the tests under the names it cites', () => {
  const { missing, checked } = unresolved('docs/topics/lifecycle.md');
  assert.deepEqual(missing, []);
  assert.ok(checked >= 40, `only ${checked} citations found`);
});
