// guardProcess on a fake process: which failures stop the process (once), which are printed and
// let go on, and that output which failed is reported closed. (test/cli/processEnd.test.ts runs
// the same with the real CLI: a closed pipe, a stray rejection, a throw in a timer.)
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { guardProcess } from '../../src/cli/processGuards.ts';

function fakeProcess() {
  const events = new EventEmitter();
  const stdout = new EventEmitter();
  const stderr = Object.assign(new EventEmitter(), {
    written: [] as string[],
    write(text: string) {
      this.written.push(text);
      return true;
    },
  });
  let stops = 0;
  // (Like the real one: the first stop starts; later ones find it under way.)
  const state = guardProcess({ on: events.on.bind(events), stdout, stderr, stop: () => ++stops === 1 });
  return { events, stdout, stderr, state, stops: () => stops };
}

/** The text with the prose lines wrapLine broke (continued with 2 spaces) joined again; stack lines ("    at …") stay. */
const unwrap = (text: string | undefined): string => (text ?? '').replace(/\n {2}(?! {2}at )/g, ' ');

const errno = (code: string, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

describe('guardProcess', () => {
  it('stdout closed by its reader (EPIPE): says so once, stops once, reports stdout closed', () => {
    const p = fakeProcess();
    expect(p.state.stdoutClosed).toBe(false);
    p.stdout.emit('error', errno('EPIPE', 'write EPIPE'));
    p.stdout.emit('error', errno('EPIPE', 'write EPIPE'));
    expect(p.state.stdoutClosed).toBe(true);
    expect(p.stops()).toBe(1);
    expect(p.stderr.written.map(unwrap)).toEqual(['taskmachine: its output was closed (the reader of the pipe went away): stopping as on SIGTERM\n']);
    for (const line of p.stderr.written.join('').split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it('stdout that cannot be written (ENOSPC): names the error and stops', () => {
    const p = fakeProcess();
    p.stdout.emit('error', errno('ENOSPC', 'ENOSPC: no space left on device, write'));
    expect(p.stops()).toBe(1);
    expect(p.stderr.written.map(unwrap)).toEqual(['taskmachine: cannot write its output (ENOSPC: ENOSPC: no space left on device, write): stopping as on SIGTERM\n']);
  });

  it('stderr that fails: reported closed, nothing more is written to it, nothing stops', () => {
    const p = fakeProcess();
    p.stderr.emit('error', errno('EPIPE', 'write EPIPE'));
    expect(p.state.stderrClosed).toBe(true);
    p.stdout.emit('error', errno('EPIPE', 'write EPIPE'));
    expect(p.stderr.written).toEqual([]);
    expect(p.stops()).toBe(1);
  });

  it('a rejection nothing handled: printed with its stack, the process goes on', () => {
    const p = fakeProcess();
    p.events.emit('unhandledRejection', new Error('floating rejection'));
    p.events.emit('unhandledRejection', 'just a string');
    expect(p.stops()).toBe(0);
    expect(unwrap(p.stderr.written[0])).toMatch(/^taskmachine: a promise was rejected and nothing handled it .*; going on\. It was rejected with:\nError: floating rejection\n\s+at /);
    expect(unwrap(p.stderr.written[1])).toBe('taskmachine: a promise was rejected and nothing handled it (task code that did not await or catch a promise?); going on. It was rejected with:\na non-Error value: "just a string"\n');
  });

  it('an exception nothing caught: printed with its stack, the process stops; one during a stop lets that stop go on', () => {
    const p = fakeProcess();
    p.events.emit('uncaughtException', new Error('thrown in a timer'));
    p.events.emit('uncaughtException', new Error('and another'));
    expect(p.stderr.written).toHaveLength(2);
    expect(unwrap(p.stderr.written[0])).toMatch(/^taskmachine: an error was thrown outside any task attempt .*; stopping as on SIGTERM\. The error:\nError: thrown in a timer\n\s+at /);
    expect(unwrap(p.stderr.written[1])).toMatch(/^taskmachine: an error was thrown outside any task attempt .*; the stop under way goes on\. The error:\nError: and another\n/);
    p.stdout.emit('error', errno('EPIPE', 'write EPIPE'));
    expect(unwrap(p.stderr.written[2])).toBe('taskmachine: its output was closed (the reader of the pipe went away): the stop under way goes on\n');
  });
});
