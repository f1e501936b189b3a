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
