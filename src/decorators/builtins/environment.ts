import { defineDecorator } from '../defineDecorator.ts';
import { EXECUTOR_KEYS } from '../executorContract.ts';

const { namespace, key } = EXECUTOR_KEYS.env;

/**
 * Environment variables for a task's attempts, visible as `ctx().env` (merged over earlier
 * `environment` decorators). Values must be strings.
 *
 * @example
 * ```ts
 * import { ctx, environment } from 'taskmachine';
 * f.task('export', ({ ctx }) => upload(ctx.env.BUCKET), { decorators: [environment({ vars: { BUCKET: 's3://exports' } })] });
 * ```
 */
export const environment = defineDecorator({
  name: 'environment',
  allowMultiple: true,
  defaults: {
    /** Variables by name. @default {} */
    vars: {} as Readonly<Record<string, string>>,
  },
  validate(params) {
    return Object.entries(params.vars)
      .filter(([, value]) => typeof value !== 'string')
      .map(([key, value]) => `vars.${key} must be a string, got ${typeof value} (convert it with String())`);
  },
  hooks: {
    stepInit(sys, params) {
      const current = (sys.getPublished(namespace, key) as Record<string, string> | undefined) ?? {};
      sys.publish(namespace, key, Object.freeze({ ...current, ...params.vars }));
    },
  },
});
