// A flow whose attempts run on worker processes (executor 'workers'): a map of 200 "render" tasks
// and a summary. The same file is loaded by the driver and by every worker.
//
// With a PostgreSQL database (DATABASE_URL), in three terminals (or on three machines):
//   npx taskmachine worker examples/scale-out.ts --store "$DATABASE_URL" --concurrency 8
//   npx taskmachine worker examples/scale-out.ts --store "$DATABASE_URL" --concurrency 8
//   npx taskmachine run examples/scale-out.ts --store "$DATABASE_URL" --executor workers
// or hand the run to the workers and return at once:
//   npx taskmachine run examples/scale-out.ts --store "$DATABASE_URL" --executor workers --detach
//   npx taskmachine status <runId> --store "$DATABASE_URL"
// Each page reports the process that rendered it: the summary counts pages per worker pid.
import { setTimeout as sleep } from 'node:timers/promises';
import { flow } from 'taskmachine';

export default flow('scale-out', (f) => {
  const pages = f.task('pages', () => Array.from({ length: 200 }, (_, page) => page));
  const render = f.map('render', pages, async ({ item, ctx }) => {
    await sleep(20, undefined, { signal: ctx.signal });
    return { page: item, pid: process.pid };
  });
  f.task(
    'summary',
    ({ upstream }) => {
      const perWorker: Record<string, number> = {};
      for (const { pid } of upstream.render) perWorker[`pid ${pid}`] = (perWorker[`pid ${pid}`] ?? 0) + 1;
      return perWorker;
    },
    { after: [render] },
  );
});
