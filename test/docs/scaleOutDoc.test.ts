// docs/scale-out.md shows what a worker prints when it starts with examples/scale-out.ts: the
// definition hash in it is that flow's (it once showed another flow's hash under the name 'etl').
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { definitionHash, shortHash } from '../../src/flow/flowShape.ts';
import scaleOut from '../../examples/scale-out.ts';

describe('docs/scale-out.md', () => {
  it("shows the worker's start lines for examples/scale-out.ts with that flow's definition hash", () => {
    const doc = readFileSync(new URL('../../docs/scale-out.md', import.meta.url), 'utf8');
    expect(doc).toContain(`\n  ${scaleOut.id}  definition ${shortHash(definitionHash(scaleOut))}\n`);
    expect(doc).toContain('npx taskmachine worker examples/scale-out.ts --store "$DATABASE_URL"');
  });
});
