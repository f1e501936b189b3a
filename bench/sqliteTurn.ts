// `npm run bench:sqlite-turn`: what one scheduler turn of 1,000 task instances costs the SQLite
// store — a commit creating 1,000 instances with their log rows, then one moving them to success
// with their log rows and result records — with `durability: 'full'` and `'normal'`, on a fresh
// file in the temp directory. Prints the median ms of 10 of each (after 2 not counted).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore, type SqliteDurability } from '../src/stores/index.ts';
import { makeInstance, makeRun } from '../test/stores/fixtures/records.ts';

const rounds = 12;
const counted = (times: number[]): string => {
  const kept = times.slice(2).sort((a, b) => a - b);
  return kept[kept.length >> 1]!.toFixed(1);
};

async function measure(durability: SqliteDurability): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'taskmachine-turn-'));
  const store = sqliteStore({ path: join(dir, 'turn.db'), durability });
  try {
    await store.commit({ runId: 'turn', run: makeRun('turn') });
    const creating: number[] = [];
    const ending: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const keys = Array.from({ length: 1_000 }, (_, i) => `t${round}x${i}`);
      let start = performance.now();
      await store.commit({
        runId: 'turn',
        instances: keys.map((key) => ({ record: makeInstance(key, { state: 'scheduled', attempt: 1 }) })),
        transitions: keys.map((key) => ({ key, from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1_000 })),
      });
      creating.push(performance.now() - start);
      start = performance.now();
      await store.commit({
        runId: 'turn',
        instances: keys.map((key) => ({ record: makeInstance(key, { state: 'success', attempt: 1, endedAt: 2_000 }), expectedVersion: 1 })),
        transitions: keys.map((key) => ({ key, from: 'running', to: 'success', event: 'SUCCEED', at: 2_000 })),
        results: keys.map((key) => ({ key, attempt: 1, value: undefined, at: 2_000 })),
      });
      ending.push(performance.now() - start);
    }
    return `| ${durability} | ${counted(creating)} | ${counted(ending)} |`;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`A turn of 1,000 task instances on sqliteStore, median ms (Node ${process.versions.node})\n`);
console.log('| durability | 1,000 created + 1,000 log rows | 1,000 updated + 1,000 log rows + 1,000 results |');
console.log('|---|---:|---:|');
for (const durability of ['full', 'normal'] as const) console.log(await measure(durability));
