import { describe, expect, it } from 'vitest';
import { isTaskInstanceState, stateColors, stateTextColor, TaskInstanceState } from '../../machines/index.ts';

describe('stateTextColor', () => {
  it('is white on the green and red states (success, failed) and black on every other state', () => {
    const white = Object.values(TaskInstanceState).filter((state) => stateTextColor(state) === 'white');
    expect(white.sort()).toEqual(['failed', 'success']);
    expect(white.map((state) => stateColors[state]).sort()).toEqual(['green', 'red']);
    for (const state of Object.values(TaskInstanceState)) expect(['white', 'black']).toContain(stateTextColor(state));
    expect(stateTextColor('running')).toBe('black');
    expect(stateTextColor('upstream_failed')).toBe('black');
  });
});

describe('isTaskInstanceState', () => {
  it('is true for the fourteen states only, and false for what merely converts to one', () => {
    for (const state of Object.values(TaskInstanceState)) expect(isTaskInstanceState(state)).toBe(true);
    expect(isTaskInstanceState('done')).toBe(false);
    expect(isTaskInstanceState('toString')).toBe(false);
    // An object whose string form is a state is not a state (Object.hasOwn would convert it).
    expect(isTaskInstanceState({ toString: () => 'running' })).toBe(false);
    expect(isTaskInstanceState(['running'])).toBe(false);
    expect(isTaskInstanceState(undefined)).toBe(false);
  });
});
