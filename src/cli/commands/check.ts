import { resolve } from 'node:path';
import { checkSqliteFile, type StoreCheckReport } from '../../stores/index.ts';
import { showValue } from '../../stores/rowChecks.ts';
import { defineCommand, UsageError } from '../command.ts';
import { shellWord } from '../session.ts';
import { shownStore, storeKind, storeOption } from '../storeOption.ts';

/** Most problems of each kind printed (the JSON report has them all). */
const shown = 20;

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

/** The report as text: what was checked, every problem (up to {@link shown} of each kind), the verdict. */
export function formatCheckReport(report: StoreCheckReport): string {
  const lines = [`store ${report.store} (SQLite, schema version ${report.schemaVersion ?? '?'})`];
  const integrity = report.integrity ?? [];
  lines.push(`integrity_check: ${integrity.length === 0 ? 'ok' : plural(integrity.length, 'problem')}`);
  for (const line of integrity.slice(0, shown)) lines.push(`  ${line}`);
  if (integrity.length > shown) lines.push(`  … ${integrity.length - shown} more (--json lists them all)`);
  const { runs, taskInstances, results } = report.checked;
  const rows = report.invalidRows;
  lines.push(
    `rows: ${plural(runs, 'run')}, ${plural(taskInstances, 'task instance')}, ${plural(results, 'result record')} checked: ` +
      (rows.length === 0 ? 'all valid' : `${plural(rows.length, 'invalid row')}`),
  );
  for (const row of rows.slice(0, shown)) {
    const which = row.table === 'runs' || row.table === 'run_shapes' ? `run '${row.runId}'` : `run '${row.runId}', ${row.table === 'results' ? 'result of' : 'task instance'} '${row.key}'`;
    lines.push(`  ${row.table}: ${which}: column ${row.column} = ${showValue(row.value)} ${row.problem}`);
  }
  if (rows.length > shown) lines.push(`  … ${rows.length - shown} more (--json lists them all)`);
  lines.push(report.ok ? 'healthy' : 'damaged');
  return `${lines.join('\n')}\n`;
}

/** What to do about what the check found. */
function advice(report: StoreCheckReport): string {
  const file = shellWord(report.store);
  if ((report.integrity?.length ?? 0) > 0) {
    return (
      `the store file "${report.store}" is damaged (integrity_check found problems). Restore it from a backup, or move it away to ` +
      `start with an empty store (its runs are then lost); sqlite3 ${file} .recover saves what can still be read. Do not run or ` +
      'resume runs on it in the meantime.'
    );
  }
  return (
    `the store file "${report.store}" has rows that do not decode into valid records: reads of those runs are refused. ` +
    `Restore the store from a backup, or correct the rows listed above (e.g. with sqlite3 ${file}) and run this check again.`
  );
}

/** `taskmachine check [--store <file>]`: a full, read-only integrity check of a store. */
export const checkCommand = defineCommand({
  name: 'check',
  summary: 'Check a store for damage: SQLite integrity_check and every stored row (read-only)',
  description:
    "Runs SQLite's full PRAGMA integrity_check over every page of the store file, then decodes and\n" +
    'validates every run, task-instance and result row as a resume would (unknown states, impossible\n' +
    "attempt numbers, task ids missing from the run's task list, payloads that do not decode), and\n" +
    'prints everything it finds. It only reads: the file, its WAL and its schema stay as they are.\n' +
    'Opening a store checks the file by itself only after an unclean stop (PRAGMA quick_check);\n' +
    'run this after a disk or power problem, or before taking a backup. Exit 0 when healthy, 2 when\n' +
    'damaged or when the file cannot be read. (PostgreSQL checks its own pages; its rows are\n' +
    'validated on every read.)',
  args: [],
  options: {
    store: { ...storeOption, description: 'The SQLite store file to check', valueName: '<file|memory>' },
    json: { type: 'boolean', description: 'Print the report as JSON' },
  },
  examples: ['taskmachine check', 'taskmachine check --store var/runs.db --json'],
  run({ options, stdout, stderr, cwd }) {
    if (options.store === 'memory') {
      stdout('store memory: nothing is kept after a command, so there is nothing to check\n');
      return 0;
    }
    if (storeKind(options.store) === 'postgres') {
      throw new UsageError(
        `check: ${shownStore(options.store)} is a PostgreSQL database; check reads SQLite store files.`,
        'PostgreSQL checks its own pages and constraints; use its tools (amcheck, pg_dump) for a database.',
      );
    }
    const report = checkSqliteFile(resolve(cwd, options.store));
    if (options.json) stdout(`${JSON.stringify(report, (_key, value: unknown) => (value === undefined ? null : value), 2)}\n`);
    if (report.error !== undefined) {
      stderr(`taskmachine: ${report.error}\n`);
      return 2;
    }
    if (!options.json) stdout(formatCheckReport(report));
    if (report.ok) return 0;
    stderr(`taskmachine: ${advice(report)}\n`);
    return 2;
  },
});
