// Charts of machines beyond the lifecycle ones: machine-level transitions, odd state names.
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { toDot, toMermaid } from '../../src/viz/index.ts';

/** Transitions on the machine itself (taken from any state), one of them targetless. */
const player = createMachine({
  id: 'player',
  initial: 'stopped',
  on: { RESET: '.stopped', POWER_OFF: '.off', PING: { actions: () => {} } },
  states: { stopped: { on: { PLAY: 'playing' } }, playing: { on: { STOP: 'stopped' } }, off: {} },
});

describe('machine-level transitions', () => {
  it('are summarized in the note by default', () => {
    const chart = toMermaid(player);
    expect(chart).toContain('    RESET: any state → stopped (1 edge)\n');
    expect(chart).not.toMatch(/--> \w+ : RESET/);
  });

  it('are drawn from every top-level state with allEdges, as the note promises (Mermaid)', () => {
    const chart = toMermaid(player, { allEdges: true });
    for (const from of ['stopped', 'playing', 'off']) {
      expect(chart).toContain(`  ${from} --> stopped : RESET\n`);
      expect(chart).toContain(`  ${from} --> off : POWER_OFF\n`);
      expect(chart).toContain(`  ${from} --> ${from} : PING\n`);
    }
    expect(chart).not.toContain('note right of');
  });

  it('are drawn from every top-level state with allEdges (DOT), a compound one as its cluster', () => {
    const dot = toDot(player, { allEdges: true });
    expect(dot).toContain('  "playing" -> "off" [label="POWER_OFF"];\n');
    expect(dot).toContain('  "off" -> "off" [label="PING"];\n');
    expect(dot).not.toContain('__legend');
    const nested = createMachine({
      id: 'job',
      initial: 'work',
      on: { ABORT: '.done' },
      states: { work: { initial: 'fetch', states: { fetch: {}, save: {} } }, done: {} },
    });
    expect(toDot(nested, { allEdges: true })).toContain('  "work__fetch" -> "done" [label="ABORT", ltail="cluster_work"];\n');
  });
});

/** Three state names that all sanitise to `in_progress`, and one that is DOT's start node. */
const odd = createMachine({
  id: 'odd',
  initial: 'in progress',
  states: {
    'in progress': { on: { NEXT: 'in-progress' } },
    'in-progress': { on: { NEXT: 'in_progress' } },
    in_progress: { on: { NEXT: '__start' } },
    __start: {},
  },
});

describe('state names that sanitise to the same id', () => {
  it('get distinct Mermaid ids, the first in definition order keeping the plain one', () => {
    const chart = toMermaid(odd);
    expect(chart).toContain('  state "in progress" as in_progress\n');
    expect(chart).toContain('  state "in-progress" as in_progress_2\n');
    expect(chart).toContain('  state "in_progress" as in_progress_3\n');
    expect(chart).toContain('  in_progress --> in_progress_2 : NEXT\n');
    expect(chart).toContain('  in_progress_2 --> in_progress_3 : NEXT\n');
    expect(chart).toContain('  in_progress_3 --> __start_2 : NEXT\n');
  });

  it('get distinct DOT nodes, none of them the start point', () => {
    const dot = toDot(odd);
    expect(dot).toContain('  "in_progress" [label="in progress"];\n');
    expect(dot).toContain('  "in_progress_2" [label="in-progress"];\n');
    expect(dot).toContain('  "in_progress_3" [label="in_progress"];\n');
    expect(dot).toContain('  "__start_2" [label="__start"];\n');
    expect(dot).toContain('  "__start" -> "in_progress";\n');
    expect(dot).toContain('  "in_progress_3" -> "__start_2" [label="NEXT"];\n');
  });
});
