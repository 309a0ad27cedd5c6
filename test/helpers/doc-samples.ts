// The TypeScript and JavaScript code blocks of the docs, for the tests that compile or run them.
// A block may be preceded by HTML comments for those tests: `<!-- sample: fragment -->` marks it
// a fragment (a signature, an excerpt), `<!-- sample: declare const x: T; -->` declares what the
// app brings.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export interface Sample {
  /** Where the block's first code line is: `docs/x.md:12`. */
  readonly doc: string;
  readonly line: number;
  readonly language: 'ts' | 'js';
  /** What `<!-- sample: ... -->` comments before the block declare. */
  readonly context: readonly string[];
  readonly fragment: boolean;
  readonly code: string;
}

export function markdownFiles(): string[] {
  const docs = (folder: string): string[] =>
    readdirSync(`${root}${folder}`, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? docs(`${folder}/${entry.name}`) : entry.name.endsWith('.md') ? [`${folder}/${entry.name}`] : [],
    );
  return ['README.md', ...docs('docs')];
}

const languages: Record<string, 'ts' | 'js' | undefined> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', mjs: 'js' };

/** The code blocks of the page `doc` (a path from the package root), or of `text` given as its content. */
export function samples(doc: string, text = readFileSync(`${root}${doc}`, 'utf8')): Sample[] {
  const lines = text.split('\n');
  const found: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(\w*)/.exec(lines[i] ?? '');
    if (!fence) continue;
    const end = lines.findIndex((line, j) => j > i && line.trim() === '```');
    assert.ok(end > i, `${doc}:${i + 1}: a code block that never ends`);
    const language = languages[fence[2] ?? ''];
    if (language) {
      const context: string[] = [];
      let fragment = false;
      // The comments right above the fence, each on one line or several (ending with `-->`).
      for (let last = i - 1; (lines[last] ?? '').endsWith('-->'); ) {
        let first = last;
        while (first > 0 && !(lines[first] ?? '').startsWith('<!--')) first--;
        const comment = /^<!-- sample: ([\s\S]*) -->$/.exec(lines.slice(first, last + 1).join('\n'));
        if (!comment) break;
        if (comment[1] === 'fragment') fragment = true;
        else context.unshift((comment[1] ?? '').replace(/\n/g, ' '));
        last = first - 1;
      }
      const indent = fence[1]?.length ?? 0;
      const code = lines.slice(i + 1, end).map((line) => line.slice(indent)).join('\n');
      found.push({ doc, line: i + 2, language, context, fragment, code });
    }
    i = end;
  }
  return found;
}

