import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('docs/testing.md', () => {
  it('shows exactly the example that test/docs/testingExample.test.ts runs', () => {
    const doc = read('docs/testing.md');
    const marker = '<!-- example: test/docs/testingExample.test.ts -->\n```ts\n';
    const start = doc.indexOf(marker);
    expect(start, 'docs/testing.md lost its example marker').toBeGreaterThanOrEqual(0);
    const code = doc.slice(start + marker.length, doc.indexOf('\n```\n', start + marker.length) + 1);
    expect(
      code,
      'The example in docs/testing.md differs from test/docs/testingExample.test.ts: copy the test file into the code block below the marker.',
    ).toBe(read('test/docs/testingExample.test.ts'));
  });
});
