// Task context: ctx(), custom context scopes, child tasks and checkpoints across retries.
// Run it:  npx node examples/context.ts
import { ctx, flow, runFlow, withCustomContext, type TaskContext } from 'taskmachine';

/** For code deeper in a task's call stack: the context it runs in (`ctx()` is undefined outside a task). */
function currentContext(): TaskContext {
  const context = ctx();
  if (context === undefined) throw new Error('currentContext() is only available inside a task');
  return context;
}

const exportRegion = flow('export', (f) => {
  const upload = f.subtask('upload', ({ input }: { input: string }) => {
    // Inside a withCustomContext scope, ctx() is that scope's copy of the context (the `ctx`
    // argument is the attempt's own): it carries the region set by the caller.
    const { taskKey, customContext, attempt } = currentContext();
    return `${taskKey} uploaded ${input} for region=${customContext.region} team=${customContext.team} (attempt ${attempt})`;
  });

  f.task(
    'export-all',
    async ({ ctx: c }) => {
      // A checkpoint survives a failed attempt: the second attempt resumes where the first stopped.
      const done = ((await c.checkpoint.load()) as string[] | undefined) ?? [];
      const results: string[] = [];
      for (const region of ['eu', 'us', 'apac']) {
        if (done.includes(region)) continue;
        results.push(await withCustomContext({ region }, () => c.call(upload, `${region}.csv`)));
        done.push(region);
        await c.checkpoint.save(done);
        if (c.attempt === 1 && region === 'us') throw new Error('network blip after us');
      }
      return { attempt: c.attempt, results };
    },
    { retries: 1 },
  );
});

const run = await runFlow(exportRegion, { customContext: { team: 'data' } });
console.log(JSON.stringify(run.tasks['export-all']!.result, null, 2));
console.log(`outside any task, ctx() is ${String(ctx())}`);
