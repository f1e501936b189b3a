// An ETL flow with a flaky extract step that succeeds on its third attempt.
// Run it:  npx taskmachine run examples/etl.ts --input '{"day":"2026-11-22"}'
import { setTimeout as sleep } from 'node:timers/promises';
import { flow, SkipTask, type FlowBuilder, type TaskContext } from 'taskmachine';

interface Input {
  day?: string;
}

interface Row {
  id: number;
  amount: number;
  currency: string;
}

/** Pretends to call an API that times out twice before it answers. */
async function fetchRows(day: string, { attempt, signal }: TaskContext): Promise<Row[]> {
  await sleep(30, undefined, { signal });
  if (attempt < 3) throw new Error(`upstream API timed out (attempt ${attempt})`);
  return Array.from({ length: 12 }, (_, id) => ({ id, amount: (id * 37) % 100, currency: id % 4 ? 'EUR' : 'usd' }));
}

// Annotating `f` types `input`, and lets `flow` type the task references `build` returns.
export default flow('etl', (f: FlowBuilder<Input>) => {
  const extract = f.task('extract', ({ input, ctx }) => fetchRows(input?.day ?? '2026-11-22', ctx), {
    retries: 3,
    retryDelay: 100,
    retryBackoff: 2,
    timeout: 5_000,
  });

  const clean = f.task(
    'clean',
    ({ upstream }) =>
      upstream.extract // readonly Row[]: typed from `extract`
        .filter((row) => row.amount > 0)
        .map((row) => ({ ...row, currency: row.currency.toUpperCase() })),
    { after: [extract] },
  );

  const totals = f.task(
    'totals',
    ({ upstream, ctx }) => {
      const byCurrency: Record<string, number> = {};
      for (const row of upstream.clean) byCurrency[row.currency] = (byCurrency[row.currency] ?? 0) + row.amount;
      ctx.log('totals', byCurrency);
      return byCurrency;
    },
    { after: [clean] },
  );

  const notify = f.task(
    'notify',
    ({ upstream }) => {
      // 'all_done' runs this after `totals` failed too: its value is then undefined, and the type says so.
      if (upstream.totals === undefined) throw new Error('totals did not succeed: nothing to report');
      if (Object.keys(upstream.totals).length === 0) throw new SkipTask('nothing to report');
      return `sent report for ${Object.keys(upstream.totals).join(', ')}`;
    },
    { after: [totals], trigger: 'all_done' },
  );

  return { extract, clean, totals, notify };
});
