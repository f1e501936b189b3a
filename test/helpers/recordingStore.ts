import { memoryStore, type CommitBatch, type Store } from '../../src/stores/index.ts';

/** A memory store that keeps every batch it commits. */
export function recordingStore(): { store: Store; batches: CommitBatch[] } {
  const store = memoryStore();
  const batches: CommitBatch[] = [];
  const commit = store.commit.bind(store);
  store.commit = async (batch) => {
    const result = await commit(batch);
    batches.push(batch);
    return result;
  };
  return { store, batches };
}
