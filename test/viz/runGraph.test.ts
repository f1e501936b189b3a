import { describe, expect, it } from 'vitest';
import { FailTask, flow, runFlow } from '../../src/index.ts';
import { runToDot, runToMermaid } from '../../src/viz/index.ts';

const definition = flow('shop', (f) => {
  const orders = f.task('orders', () => [1, 2, 3]);
  const charge = f.map('charge', orders, ({ item }) => {
    if (item === 2) throw new FailTask('card declined');
    return item;
  });
  f.task('ship', () => 'shipped', { after: [charge] });
  f.subtask('audit', () => 'never drawn: runs only when called');
});

describe('run diagrams', () => {
  it('Mermaid: one box per task, mapped instances summarized, the most telling state colours the box', async () => {
    const run = await runFlow(definition, { log: () => {} });
    expect(runToMermaid(definition, run)).toBe(
      [
        'flowchart LR',
        '  t0["orders<br/>success"]:::success',
        '  t1["charge ×3<br/>failed 1, success 2"]:::failed',
        '  t2["ship<br/>upstream_failed"]:::upstream_failed',
        '  t0 --> t1',
        '  t1 --> t2',
        '  classDef success fill:green,color:white,stroke:#555',
        '  classDef failed fill:red,color:white,stroke:#555',
        '  classDef upstream_failed fill:orange,color:black,stroke:#555',
        '',
      ].join('\n'),
    );
  });

  it('DOT: the same graph with filled, coloured boxes', async () => {
    const run = await runFlow(definition, { log: () => {} });
    const dot = runToDot(definition, run);
    expect(dot).toContain('  t1 [label="charge ×3\\nfailed 1, success 2", fillcolor="#ff0000", fontcolor="#ffffff"];');
    // Hex values: in Graphviz's own colour names green is CSS lime, and success would look like running.
    expect(dot).toContain('  t0 [label="orders\\nsuccess", fillcolor="#008000", fontcolor="#ffffff"];');
    expect(dot).toContain('  t1 -> t2;');
    expect(dot.startsWith('digraph "shop" {')).toBe(true);
  });
});
