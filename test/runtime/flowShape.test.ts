import { describe, expect, it } from 'vitest';
import { canonicalShapeJson, flow, flowHash, flowShape, retry } from '../../src/index.ts';

const etl = flow('etl', (f) => {
  const extract = f.task('extract', () => [1, 2], { retries: 3, timeout: 5_000 });
  const setup = f.task('setup', () => 'ok', { setup: true });
  const score = f.map('score', extract, ({ item }) => item * 2, { after: [setup] });
  f.task('report', () => 'done', { after: [score], trigger: 'all_done', decorators: [retry({ times: 1 })] });
  f.subtask('lookup', () => 1);
});

describe('flowShape: a definition as plain data', () => {
  it('has every task, its edges, trigger rule, map parent and options; defaults left out', () => {
    expect(flowShape(etl)).toEqual({
      version: 1,
      flowId: 'etl',
      tasks: [
        { id: 'extract', kind: 'task', upstream: [], retries: 3, timeout: 5_000 },
        { id: 'setup', kind: 'task', upstream: [], setup: true },
        { id: 'score', kind: 'map', upstream: ['extract', 'setup'], mapOver: 'extract' },
        { id: 'report', kind: 'task', upstream: ['score'], trigger: 'all_done', retries: 1, decorators: ['retry'] },
        { id: 'lookup', kind: 'subtask', upstream: [] },
      ],
    });
  });

  it('is JSON: it survives JSON.stringify/parse unchanged', () => {
    const shape = flowShape(etl);
    expect(JSON.parse(JSON.stringify(shape))).toEqual(shape);
  });

  // Stores and flowHash trust a shape flowShape made without walking it again (and remember its
  // JSON), which is only sound while nobody can change it afterwards.
  it('is frozen all the way down, so a check or hash made once stays true', () => {
    const shape = flowShape(etl);
    const hashBefore = flowHash(shape);
    const report = shape.tasks[3] as unknown as { upstream: string[]; decorators: string[]; id: string };
    expect(() => { report.id = 'other'; }).toThrow(TypeError);
    expect(() => report.upstream.push('extract')).toThrow(TypeError);
    expect(() => report.decorators.push('timeout')).toThrow(TypeError);
    expect(() => (shape.tasks as unknown[]).push({})).toThrow(TypeError);
    expect(() => { (shape as { flowId: string }).flowId = 'x'; }).toThrow(TypeError);
    expect(flowHash(shape)).toBe(hashBefore);
    expect(canonicalShapeJson(shape)).toBe(canonicalShapeJson(structuredClone(shape)));
  });
});

describe('flowHash', () => {
  it('is sha256 of the canonical JSON: the same for an equal definition, whatever its code', () => {
    const again = flow('etl', (f) => {
      const extract = f.task('extract', () => ['other code'], { retries: 3, timeout: 5_000 });
      const setup = f.task('setup', () => 'x', { setup: true });
      const score = f.map('score', extract, () => 0, { after: [setup] });
      f.task('report', () => 'y', { after: [score], trigger: 'all_done', decorators: [retry({ times: 1 })] });
      f.subtask('lookup', () => 2);
    });
    expect(flowHash(flowShape(etl))).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(flowHash(flowShape(again))).toBe(flowHash(flowShape(etl)));
    expect(canonicalShapeJson(flowShape(etl))).toBe(canonicalShapeJson(flowShape(again)));
  });

  it('does not depend on the key order of the shape objects', () => {
    const shape = flowShape(etl);
    const reordered = { tasks: shape.tasks.map((task) => Object.fromEntries(Object.entries(task).reverse())), flowId: 'etl', version: 1 } as never;
    expect(flowHash(reordered)).toBe(flowHash(shape));
  });

  it('changes when an edge, a trigger rule, an option or a task changes', () => {
    const base = flowHash(flowShape(flow('f', (f) => { const a = f.task('a', () => 1); f.task('b', () => 2, { after: a }); })));
    const variants = [
      flow('f', (f) => { f.task('a', () => 1); f.task('b', () => 2); }),
      flow('f', (f) => { const a = f.task('a', () => 1); f.task('b', () => 2, { after: a, trigger: 'all_done' }); }),
      flow('f', (f) => { const a = f.task('a', () => 1); f.task('b', () => 2, { after: a, retries: 1 }); }),
      flow('f', (f) => { const a = f.task('a', () => 1); f.task('c', () => 2, { after: a }); }),
      flow('g', (f) => { const a = f.task('a', () => 1); f.task('b', () => 2, { after: a }); }),
    ];
    const hashes = variants.map((variant) => flowHash(flowShape(variant)));
    expect(new Set([base, ...hashes]).size).toBe(variants.length + 1);
  });
});
