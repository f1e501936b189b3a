// An ETL flow with a flaky extract step that succeeds on its third attempt.
// Run it:  npx taskmachine run examples/etl.ts --input '{"day":"2026-11-22"}'
import { setTimeout as sleep } from 'node:timers/promises';
import { ctx, flow, SkipTask } from 'taskmachine';

interface Input {
  day?: string;
}

interface Row {
  id: number;
  amount: number;
  currency: string;
}

/** Pretends to call an API that times out twice before it answers. */
async function fetchRows(day: string): Promise<Row[]> {
  const { attempt, signal } = ctx()!;
  await sleep(30, undefined, { signal });
  if (attempt < 3) throw new Error(`upstream API timed out (attempt ${attempt})`);
  return Array.from({ length: 12 }, (_, id) => ({ id, amount: (id * 37) % 100, currency: id % 4 ? 'EUR' : 'usd' }));
}

export default flow<Input>('etl', (f) => {
  const extract = f.task('extract', ({ input }) => fetchRows(input?.day ?? '2026-11-22'), {
    retries: 3,
    retryDelay: 100,
    retryBackoff: 2,
    timeout: 5_000,
  });

  const clean = f.task(
    'clean',
    ({ upstream }) =>
      (upstream.extract as Row[])
        .filter((row) => row.amount > 0)
        .map((row) => ({ ...row, currency: row.currency.toUpperCase() })),
    { after: [extract] },
  );

  const totals = f.task(
    'totals',
    ({ upstream }) => {
      const byCurrency: Record<string, number> = {};
      for (const row of upstream.clean as Row[]) byCurrency[row.currency] = (byCurrency[row.currency] ?? 0) + row.amount;
      ctx()!.log('totals', byCurrency);
      return byCurrency;
    },
    { after: [clean] },
  );

  f.task(
    'notify',
    ({ upstream }) => {
      if (Object.keys(upstream.totals).length === 0) throw new SkipTask('nothing to report');
      return `sent report for ${Object.keys(upstream.totals).join(', ')}`;
    },
    { after: [totals], trigger: 'all_done' },
  );
});
