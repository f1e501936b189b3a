// The docs and examples show the typed data flow: no casts of values handed between tasks, no
// `ctx()!`. (The examples are compiled by `tsc --noEmit` and run by test/examples.test.ts; the
// docs' code blocks are not compiled — they call functions they do not define — so they are read.)
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');

/** Every ```ts block of a markdown file, with the line it starts on. */
function codeBlocks(path: string): Array<{ where: string; code: string }> {
  const blocks: Array<{ where: string; code: string }> = [];
  const pattern = /^```(?:ts|typescript)\n([\s\S]*?)^```/gm;
  const text = read(path);
  for (const match of text.matchAll(pattern)) {
    blocks.push({ where: `${path}:${text.slice(0, match.index).split('\n').length}`, code: match[1]! });
  }
  return blocks;
}

/** The TSDoc lines (` * …`) of every source file under `dir`: their examples count as docs. */
function tsdocOf(dir: string): Array<{ where: string; code: string }> {
  return readdirSync(`${root}/${dir}`, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({
      where: `${dir}/${name}`,
      code: read(`${dir}/${name}`)
        .split('\n')
        .map((line) => (/^\s*\*\s/.test(line) ? line : ''))
        .join('\n'),
    }));
}

const markdown = ['README.md', ...readdirSync(`${root}/docs`).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const examples = readdirSync(`${root}/examples`).filter((name) => name.endsWith('.ts')).map((name) => `examples/${name}`);

/** What the typed data flow makes unnecessary, and what each means. */
const forbidden: Array<[RegExp, string]> = [
  [/ctx\(\)!/, 'ctx()! (use the `ctx` argument, or ctx() with a check in deeper code)'],
  [/\bupstream(?:\.[\w$]+|\[[^\]]+\])+\)?\s+as\s+/, 'a cast of an upstream value (upstream is typed from `after`)'],
  [/\(?\bitem\)?\s+as\s+/, 'a cast of a mapped item (item is typed from the list)'],
  [/\bmapIndex!/, 'mapIndex! (a mapped task’s mapIndex is a number)'],
];

function problemsIn(where: string, code: string): string[] {
  const problems: string[] = [];
  code.split('\n').forEach((line, index) => {
    for (const [pattern, what] of forbidden) if (pattern.test(line)) problems.push(`${where} (+${index}): ${what}: ${line.trim()}`);
  });
  return problems;
}

describe('docs and examples use the typed data flow', () => {
  it('the patterns it rejects are the casts the issue found (so the check itself works)', () => {
    expect(problemsIn('x', '(upstream.extract as Row[]).filter(ok)')).toHaveLength(1);
    expect(problemsIn('x', "(upstream['list-archives'] as string[]).join()")).toHaveLength(1);
    expect(problemsIn('x', 'const doc = item as string;')).toHaveLength(1);
    expect(problemsIn('x', 'const { attempt } = ctx()!;')).toHaveLength(1);
    expect(problemsIn('x', 'await sleep(mapIndex! % 3)')).toHaveLength(1);
    expect(problemsIn('x', 'upstream.extract.filter(ok); ctx.log(item.id)')).toEqual([]);
  });

  it('no code block in README.md or docs/ casts an upstream value or an item, or uses ctx()!', () => {
    const problems = markdown.flatMap((path) => codeBlocks(path).flatMap(({ where, code }) => problemsIn(where, code)));
    expect(problems).toEqual([]);
  });

  it('no example, and no TSDoc example in src/, does', () => {
    const problems = [...examples.map((path) => ({ where: path, code: read(path) })), ...tsdocOf('src')].flatMap(({ where, code }) =>
      problemsIn(where, code),
    );
    expect(problems).toEqual([]);
  });

  it('the wrap example in docs/decorators.md is the one examples/decorators.ts compiles and runs', () => {
    const example = read('examples/decorators.ts');
    const region = /\/\/ #region metrics\n([\s\S]*?)\/\/ #endregion/.exec(example)?.[1];
    expect(region).toBeDefined();
    expect(region).toContain('wrap: (fn, sys, params) => async (args) => {');
    expect(codeBlocks('docs/decorators.md').map(({ code }) => code)).toContain(region);
  });
});
