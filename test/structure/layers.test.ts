import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { circles, importGraph, roomOf } from './importGraph.ts';

// The layers of docs/architecture.md, top first: a room imports only from rooms of lower layers.
// A new folder or file in src/ must be placed here (the test names it until it is).
const LAYERS: readonly (readonly string[])[] = [
  ['src/cli/'],
  ['src/ui/'],
  ['src/operate/', 'src/workers/', 'src/index.ts'],
  ['src/runtime/', 'src/otel/'],
  ['src/gates/', 'src/viz/', 'src/listeners/'],
  ['src/stores/', 'src/records.ts'],
  ['src/flow/'],
  ['src/decorators/'],
  ['src/context/'],
  ['src/testing/'],
  ['src/errors.ts', 'src/clock.ts', 'src/frozen.ts', 'src/taskRef.ts', 'src/taskInstanceRecord.ts', 'src/processExists.ts', 'src/shellWord.ts', 'src/suggest.ts'],
];

const layerOf = new Map(LAYERS.flatMap((rooms, layer) => rooms.map((room) => [room, layer] as const)));
const graph = importGraph(fileURLToPath(new URL('../../src', import.meta.url)));

describe('the layering of src/ (docs/architecture.md)', () => {
  it('reads the whole tree', () => {
    // A parser that found nothing would pass everything below.
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get('src/runtime/flowRun.ts')).toContain('src/runtime/lifecycle/lifecycle.ts');
  });

  it('places every room of src/ in a layer', () => {
    const unplaced = [...new Set([...graph.keys()].map(roomOf))].filter((room) => !layerOf.has(room));
    expect(unplaced, 'add these rooms to LAYERS here and to docs/architecture.md').toEqual([]);
  });

  it('has no import from a room to a room of the same or a higher layer', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (!graph.has(target) || roomOf(file) === roomOf(target)) continue;
        if (layerOf.get(roomOf(file))! >= layerOf.get(roomOf(target))!) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import circle between files', () => {
    expect(circles(graph)).toEqual([]);
  });
});

describe('circles', () => {
  it('finds a circle of files and a self-import, and nothing in a chain', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['d']],
      ['e', ['f']],
      ['f', []],
    ]);
    expect(circles(graph).sort()).toEqual([['a', 'b', 'c'], ['d']]);
  });
});
