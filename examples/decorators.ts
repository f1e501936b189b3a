// Decorators: built-ins together, and a decorator of our own.
// Run it:  npx taskmachine run examples/decorators.ts
import { catchErrors, defineDecorator, environment, flow, resources, retry, timeout } from 'taskmachine';

/** Our own decorator: times every attempt and publishes the duration for later hooks. */
export const stopwatch = defineDecorator({
  name: 'stopwatch',
  defaults: { label: '' },
  hooks: {
    beforeAttempt: (sys) => sys.publish('stopwatch', 'startedAt', performance.now()),
    onAttemptSettled: (result, sys, params) => {
      const ms = performance.now() - (sys.getPublished('stopwatch', 'startedAt') as number);
      console.log(`stopwatch ${params.label || sys.taskKey} attempt ${sys.attempt}/${sys.maxAttempts}: ${result.ok ? 'ok' : result.error.message} after ${ms.toFixed(1)} ms`);
    },
  },
});

// #region metrics
/** Our own `wrap` decorator: an async wrapper around the task function that times each attempt. */
export const metrics = defineDecorator({
  name: 'metrics',
  defaults: { histogram: 'task_duration_ms' }, // params are typed from here: { histogram: string }
  hooks: {
    wrap: (fn, sys, params) => async (args) => {
      const started = performance.now();
      try {
        return await fn(args); // the task function (or the wrapper of the decorator before this one)
      } finally {
        observe(params.histogram, { task: sys.taskId, attempt: sys.attempt }, performance.now() - started);
      }
    },
  },
});
// #endregion

/** Stands in for a metrics client's histogram. */
function observe(histogram: string, labels: Record<string, string | number>, ms: number): void {
  const text = Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(',');
  console.log(`metrics ${histogram}{${text}} ${ms.toFixed(1)} ms`);
}

export default flow('decorated', (f) => {
  // Fails twice, then succeeds: retry gives it the attempts, stopwatch reports each.
  let calls = 0;
  const fetchPrices = f.task(
    'fetch-prices',
    async ({ ctx }) => {
      calls++;
      if (calls < 3) throw new Error(`price feed unavailable (${calls})`);
      return { EUR: 1, USD: 1.08, region: ctx.env.REGION };
    },
    { decorators: [retry({ times: 3, delay: 20 }), environment({ vars: { REGION: 'eu-west' } }), stopwatch()] },
  );

  // Hangs on its single attempt: timeout aborts it, catchErrors lets the flow go on with the error.
  const enrich = f.task(
    'enrich',
    ({ upstream }) => new Promise((resolve) => setTimeout(() => resolve(upstream['fetch-prices']), 60_000).unref()),
    { after: [fetchPrices], decorators: [timeout({ seconds: 0.2 }), catchErrors({ var: 'enrichError', printException: false })] },
  );

  f.task(
    'report',
    ({ upstream }) => (upstream.enrich.enrichError ? `report without enrichment (${upstream.enrich.enrichError.name})` : 'full report'),
    { after: [enrich], decorators: [resources({ cpu: 2, memoryMb: 512 }), metrics({ histogram: 'report_ms' })] },
  );
});
