// `@opentelemetry/api` is an optional peer dependency: importing any entry of the package but
// `taskmachine/otel` must not load it (an application without it installed must work, and one with
// it pays nothing for an integration it does not use). Checked in a fresh process, whose module
// loader records every module it loads.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The URLs of every module a fresh process loads to import `specifiers`. */
function modulesLoadedBy(specifiers: readonly string[]): string[] {
  const script = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, nextLoad) { loaded.push(url); return nextLoad(url, context); } });
for (const specifier of ${JSON.stringify(specifiers)}) await import(specifier);
process.stdout.write(JSON.stringify(loaded));
`;
  const result = spawnSync(process.execPath, ['--input-type=module', '--eval', script], { cwd: root, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as string[];
}

const fromOpenTelemetry = (urls: readonly string[]) => urls.filter((url) => url.includes('/@opentelemetry/'));

describe('@opentelemetry/api is loaded only by taskmachine/otel', () => {
  it('the main entry and the other subpath exports, and the CLI, load no @opentelemetry module', () => {
    const loaded = modulesLoadedBy(['taskmachine', 'taskmachine/machines', 'taskmachine/stores', 'taskmachine/testing', 'taskmachine/viz', './src/cli/main.ts']);
    expect(loaded.some((url) => url.endsWith('/src/index.ts'))).toBe(true);
    expect(fromOpenTelemetry(loaded)).toEqual([]);
  });

  it('taskmachine/otel loads @opentelemetry/api (so the check above can see it)', () => {
    const loaded = fromOpenTelemetry(modulesLoadedBy(['taskmachine/otel']));
    expect(loaded.some((url) => url.includes('/@opentelemetry/api/'))).toBe(true);
    // The SDK packages are the application's choice: the integration loads only the API.
    expect(loaded.filter((url) => !url.includes('/@opentelemetry/api/'))).toEqual([]);
  });
});
