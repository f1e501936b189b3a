import { describe } from 'vitest';
import { postgresStore } from '../../src/stores/index.ts';
import { freshSchema, postgres, skipReason } from '../helpers/postgresTest.ts';
import { defineStoreContract } from './storeContract.ts';

describe.skipIf(postgres === undefined)(`postgresStore${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  defineStoreContract('postgresStore', () => postgresStore({ connectionString: postgres!.url, schema: freshSchema(), retryDelayMs: 0 }));
});
