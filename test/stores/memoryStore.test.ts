import { expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/index.ts';
import { defineStoreContract, makeRun } from './storeContract.ts';

defineStoreContract('memoryStore', () => memoryStore());

it('memoryStore: stores are independent of each other', async () => {
  const one = memoryStore();
  const two = memoryStore();
  await one.commit({ runId: 'r1', run: makeRun('r1') });
  expect(await two.getRun('r1')).toBeUndefined();
});
