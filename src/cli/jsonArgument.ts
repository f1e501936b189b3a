import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from './command.ts';

/**
 * The value of a JSON option (`--input`, `--payload`): JSON text, or `@file.json` to read it from
 * a file (relative to `cwd`). `undefined` when the option was not given. A bad value is a
 * `UsageError` naming the option and how to pass it.
 */
export function parseJsonArgument(text: string | undefined, option: string, command: string, cwd: string): unknown {
  if (text === undefined) return undefined;
  let json = text;
  if (text.startsWith('@')) {
    const path = resolve(cwd, text.slice(1));
    try {
      json = readFileSync(path, 'utf8');
    } catch {
      throw new UsageError(`${command}: cannot read the ${option} file '${text.slice(1)}' (${path}).`, `Use --${option} @<file.json> with an existing file, or --${option} <json>.`);
    }
  }
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new UsageError(
      `${command}: --${option} is not valid JSON: ${(error as Error).message}.`,
      `Quote it for your shell, e.g. --${option} '{"day":"2026-11-22"}', or use --${option} @${option}.json.`,
    );
  }
}
