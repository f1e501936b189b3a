// The taskInstanceMachine recipe of docs/testing.md, run as written, and every number the page
// quotes about it recomputed — the page quoted a key that could never reach full coverage and
// counts from an older machine, because nothing ran it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CoverageError, machineEdges } from 'taskmachine/testing';
import { taskInstanceEvents as specEvents } from '../model/taskInstanceSpec.ts';

// ---- The recipe, as the page shows it. ----
import { assertFullCoverage, formatCoverage, pathTests, taskInstanceEvents, taskInstanceStateKey } from 'taskmachine/testing';
import { taskInstanceMachine } from 'taskmachine/machines';

const suite = pathTests(taskInstanceMachine, {
  // One retry takes both branches of FAIL and GATE_FAIL; one interruption both of INTERRUPT.
  input: { retries: 1, maxInterruptions: 1 },
  events: (snapshot) => taskInstanceEvents(snapshot),
  serializeState: taskInstanceStateKey,
});
formatCoverage(suite); // 'taskInstance: 14/14 states, 76/76 edges'
assertFullCoverage(suite); // passes

// ---- Checks of the page. ----

const doc = readFileSync(new URL('../../docs/testing.md', import.meta.url), 'utf8');
/** The page's prose with line breaks as spaces, so a reflowed paragraph still matches. */
const prose = doc.replace(/\s+/g, ' ');

describe('docs/testing.md, the taskInstanceMachine recipe', () => {
  it('shows the code this file runs', () => {
    const marker = '<!-- recipe: test/docs/testingRecipe.test.ts -->\n```ts\n';
    const start = doc.indexOf(marker);
    expect(start, 'docs/testing.md lost its recipe marker').toBeGreaterThanOrEqual(0);
    const code = doc.slice(start + marker.length, doc.indexOf('\n```\n', start + marker.length) + 1);
    const self = readFileSync(new URL(import.meta.url), 'utf8');
    expect(
      self.includes(code),
      'The recipe in docs/testing.md differs from the top of test/docs/testingRecipe.test.ts: make them the same.',
    ).toBe(true);
  });

  it('reaches full coverage with the numbers the page quotes', () => {
    const edges = machineEdges(taskInstanceMachine).length;
    expect(formatCoverage(suite)).toBe(`taskInstance: 14/14 states, ${edges}/${edges} edges`);
    expect(doc).toContain(`formatCoverage(suite); // '${formatCoverage(suite)}'`);
    expect(prose).toContain(`every one of the ${edges} edges of \`taskInstanceMachine\``);
    expect(prose).toContain(
      `That is ${suite.vertices.length} vertices, ${suite.edges.length} edge cases and ${suite.paths.length} path cases.`,
    );
  });

  it("quotes the repository's own suite (retries 0, 1, 2; maxInterruptions 1) with its real counts", () => {
    // The same traversal as test/model/taskInstance.model.test.ts.
    const suites = [0, 1, 2].map((retries) =>
      pathTests(taskInstanceMachine, {
        input: { retries, maxInterruptions: 1 },
        events: specEvents,
        serializeState: taskInstanceStateKey,
      }),
    );
    const [v0, v1, v2] = suites.map((each) => each.vertices.length);
    const edgeCases = suites.reduce((sum, each) => sum + each.edges.length, 0);
    const pathCases = suites.reduce((sum, each) => sum + each.paths.length, 0);
    expect(prose).toContain(
      `${v0}, ${v1} and ${v2} vertices, every simple path enumerated (no length cut), ${edgeCases} edge cases and ${pathCases} path cases`,
    );
    assertFullCoverage(...suites);
  });

  it('quotes the CoverageError of the recipe with retries 0 word for word', () => {
    const retries0 = pathTests(taskInstanceMachine, {
      input: { retries: 0, maxInterruptions: 1 },
      events: (snapshot) => taskInstanceEvents(snapshot),
      serializeState: taskInstanceStateKey,
    });
    let error: unknown;
    try {
      assertFullCoverage(retries0);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CoverageError);
    expect(prose).toContain((error as CoverageError).message.replace(/\s+/g, ' '));
  });

  it('is right that a key without the interruptions left misses running →INTERRUPT[else]→ failed', () => {
    expect(prose).toContain('so `running →INTERRUPT[else]→ failed` is never taken');
    const attemptsOnly = pathTests(taskInstanceMachine, {
      input: { retries: 1, maxInterruptions: 1 },
      events: (snapshot) => taskInstanceEvents(snapshot),
      serializeState: (s) => JSON.stringify([s.value, s.context.maxAttempts - s.context.attempt]),
    });
    expect(attemptsOnly.coverage.uncoveredEdges.map((edge) => edge.label)).toEqual(['running →INTERRUPT[else]→ failed']);
  });
});
