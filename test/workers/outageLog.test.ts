// OutageLog: a worker or driver that retries a poll every 20 ms while PostgreSQL restarts logs one
// line when the outage starts and one when it ends, not one per try.
import { expect, it } from 'vitest';
import { OutageLog } from '../../src/runtime/remote/outageLog.ts';

it('logs the first failure of an outage and its end, nothing in between or while things work', () => {
  const lines: string[] = [];
  const log = new OutageLog((line) => lines.push(line), 'taskmachine worker w1: fetching attempt jobs');
  log.ok();
  expect(lines).toEqual([]);
  log.failed(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
  log.failed(new Error('the database system is starting up'));
  expect(lines).toEqual(['taskmachine worker w1: fetching attempt jobs failed (trying again until it works): connect ECONNREFUSED 127.0.0.1:5432']);
  log.ok();
  log.ok();
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatch(/^taskmachine worker w1: fetching attempt jobs works again, after \d+ ms$/);
  log.failed('a string, not an Error');
  expect(lines[2]).toBe('taskmachine worker w1: fetching attempt jobs failed (trying again until it works): a string, not an Error');
});
