// Type tests of pathTests (checked by `tsc --noEmit` in `npm test`, run by vitest): the options are
// typed from the machine, never the other way round.
import { expectTypeOf, describe, it } from 'vitest';
import { taskInstanceMachine, type TaskInstanceEvent } from '../../machines/index.ts';
import { pathTests, taskInstanceStateKey, type PathTestSuite } from '../../src/testing/index.ts';

describe('pathTests types', () => {
  it('types the events function of the docs from the machine (the options do not take part in inference)', () => {
    // Without NoInfer on the options, TypeScript inferred the machine from this function's
    // result too and refused `'SCHEDULE'` (type 'string' is not assignable to type '"START"').
    const suite = pathTests(taskInstanceMachine, {
      input: { retries: 1 },
      events: (snapshot) => [{ type: 'SCHEDULE' }, { type: 'QUEUE' }, { type: 'START', attempt: snapshot.context.attempt }],
      serializeState: taskInstanceStateKey,
    });
    expectTypeOf(suite).toEqualTypeOf<PathTestSuite<typeof taskInstanceMachine>>();
    expectTypeOf(suite.paths[0]!.steps[0]!.event).toEqualTypeOf<TaskInstanceEvent>();
  });

  it('still refuses an event the machine does not know', () => {
    const typeOnly = (_lines: () => unknown): void => {};
    typeOnly(() =>
      pathTests(taskInstanceMachine, {
        // @ts-expect-error 'CLOSE' is not an event of taskInstanceMachine
        events: [{ type: 'CLOSE' }],
      }),
    );
  });
});
