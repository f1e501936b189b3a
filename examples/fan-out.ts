// Fan-out with `map` and a join: score every document in parallel, then summarize.
// Run it:  npx taskmachine run examples/fan-out.ts --concurrency 4
import { setTimeout as sleep } from 'node:timers/promises';
import { flow } from 'taskmachine';

const documents = ['invoice-17', 'contract-2', 'memo-9', 'invoice-18', 'receipt-5', 'memo-10'];

export default flow('fan-out', (f) => {
  const list = f.task('list-documents', () => documents);

  const score = f.map(
    'score',
    list,
    async ({ item: doc, mapIndex, ctx }) => {
      // `doc` is a string (an element of list-documents' result). Each instance sees its own
      // context, even while they run concurrently.
      await sleep(10 + (mapIndex % 3) * 15, undefined, { signal: ctx.signal });
      return { doc, score: doc.length * 7 + mapIndex, key: ctx.taskKey };
    },
    { retries: 1 },
  );

  f.task(
    'summarize',
    ({ upstream }) => {
      const scored = upstream.score; // readonly { doc, score, key }[], in mapIndex order
      const best = scored.reduce((a, b) => (b.score > a.score ? b : a));
      return { documents: scored.length, best: best.doc, mean: scored.reduce((sum, s) => sum + s.score, 0) / scored.length };
    },
    { after: [score] },
  );
});
