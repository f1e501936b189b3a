import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { allTaskInstanceStates, flowRunMachine, taskInstanceMachine } from '../../machines/index.ts';
import { FailTask, flow, runFlow } from '../../src/index.ts';
import { dotToSvg, runToDot, stateHex, toDot } from '../../src/viz/index.ts';

const bin = fileURLToPath(new URL('../../bin/taskmachine.js', import.meta.url));

/** Parses SVG as XML, strictly: any well-formedness error throws. */
function parseSvg(text: string): Document {
  const document = new DOMParser({
    onError: (level, message) => {
      throw new Error(`not well-formed SVG (${level}): ${message}`);
    },
  }).parseFromString(text, 'image/svg+xml');
  const root = document.documentElement!;
  expect(root.localName).toBe('svg');
  expect(root.namespaceURI).toBe('http://www.w3.org/2000/svg');
  return document;
}

/**
 * Pairs of edge labels whose boxes overlap. A label's box is estimated from its text: Helvetica
 * averages about 0.6 em a character (a bit wide, so a near miss counts as a hit); a label is
 * centred on its x (`text-anchor="middle"`) with its baseline at y.
 */
function overlappingLabels(document: Document): string[] {
  const boxes: Array<{ text: string; x0: number; x1: number; y0: number; y1: number }> = [];
  for (const group of Array.from(document.getElementsByTagName('g')) as Element[]) {
    if (group.getAttribute('class') !== 'edge') continue;
    for (const label of Array.from(group.getElementsByTagName('text')) as Element[]) {
      const text = label.textContent ?? '';
      const [x, y, size] = ['x', 'y', 'font-size'].map((name) => Number(label.getAttribute(name)));
      const width = text.length * size! * 0.6;
      boxes.push({ text, x0: x! - width / 2, x1: x! + width / 2, y0: y! - size!, y1: y! + 2 });
    }
  }
  const hits: string[] = [];
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) if (a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1) hits.push(`${a.text} × ${b.text}`);
  }
  return hits;
}

/** Graphviz's node groups: title (the node id) → the fill of its shape and its label's lines. */
function nodes(document: Document): Map<string, { fill: string | null; text: string[] }> {
  const out = new Map<string, { fill: string | null; text: string[] }>();
  for (const group of Array.from(document.getElementsByTagName('g')) as Element[]) {
    if (group.getAttribute('class') !== 'node') continue;
    const title = group.getElementsByTagName('title')[0]?.textContent ?? '';
    const shape = group.getElementsByTagName('path')[0] ?? group.getElementsByTagName('polygon')[0];
    const text = (Array.from(group.getElementsByTagName('text')) as Element[]).map((element) => element.textContent ?? '');
    out.set(title, { fill: shape?.getAttribute('fill') ?? null, text });
  }
  return out;
}

describe('SVG without Graphviz installed (@viz-js/viz)', () => {
  it('taskmachine viz machine task-instance --format svg prints valid SVG with every state in its colour', () => {
    const result = spawnSync(process.execPath, [bin, 'viz', 'machine', 'task-instance', '--format', 'svg'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const drawn = nodes(parseSvg(result.stdout));
    for (const state of allTaskInstanceStates) {
      expect(drawn.get(state), state).toEqual({ fill: stateHex(state), text: [state] });
    }
    // Success and running: two greens that differ, in this renderer too.
    expect(drawn.get('success')!.fill).toBe('#008000');
    expect(drawn.get('running')!.fill).toBe('#00ff00');
  });

  it('the lifecycle charts can be read: no edge label lies over another', async () => {
    // (At Graphviz's default spacing GATE_FAIL [canRetryGateFailure] lay over FAIL [canRetryFailedAttempt].)
    for (const machine of [taskInstanceMachine, flowRunMachine]) {
      const document = parseSvg(await dotToSvg(toDot(machine)));
      expect(document.getElementsByTagName('text').length).toBeGreaterThan(20);
      expect(overlappingLabels(document), machine.id).toEqual([]);
    }
  });

  it('dotToSvg renders a run graph; invalid DOT is an error with Graphviz’s message', async () => {
    const shop = flow('shop', (f) => {
      const orders = f.task('orders', () => [1, 2]);
      f.map('charge', orders, ({ item }) => {
        if (item === 2) throw new FailTask('card declined');
        return item;
      });
    });
    const run = await runFlow(shop, { log: () => {} });
    const drawn = nodes(parseSvg(await dotToSvg(runToDot(shop, run))));
    expect(drawn.get('t0')).toEqual({ fill: stateHex('success'), text: ['orders', 'success'] });
    expect(drawn.get('t1')).toEqual({ fill: stateHex('failed'), text: ['charge ×2', 'failed 1, success 1'] });
    await expect(dotToSvg('digraph { a -> }')).rejects.toThrow(/Graphviz could not render the graph: .*syntax error/);
    expect(await dotToSvg(toDot(taskInstanceMachine))).toBe(spawnSync(process.execPath, [bin, 'viz', 'machine', 'task-instance', '-f', 'svg'], { encoding: 'utf8' }).stdout);
  });
});
