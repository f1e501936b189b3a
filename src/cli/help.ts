import type { Command } from './command.ts';
import { fill, reflow } from './wrapText.ts';

// Help is read in a terminal: every line fits 80 columns (descriptions are wrapped at spaces,
// under their column), except examples, which are commands to copy whole.

/** The text of `taskmachine --help`. */
export function formatMainHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((command) => command.name.length), 'help'.length) + 2;
  const lines = [
    `taskmachine ${version} — embeddable, actor-model workflow runtime`,
    '',
    'Usage: taskmachine <command> [arguments] [options]',
    '',
    'Commands:',
    ...commands.flatMap((command) => fill(command.summary, `  ${command.name.padEnd(width)}`, ' '.repeat(2 + width))),
    `  ${'help'.padEnd(width)}Show the help of a command`,
    '',
    'Options:',
    '  -h, --help    Show this help',
    '  --version     Print the version',
    '',
    reflow("Run 'taskmachine <command> --help' (or 'taskmachine help <command>') for a command's arguments and options."),
    '',
    reflow(
      'Exit codes: 0 success, 1 a failed run (or one left waiting on a manual resume), 2 bad usage, input ' +
        'or store, 130 stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM.',
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** The text of `taskmachine <command> --help`. */
export function formatCommandHelp(command: Command): string {
  const lines = [...fill(usageLine(command), 'Usage: ', '         '), '', reflow(command.summary)];
  if (command.description) lines.push('', reflow(command.description));
  if (command.args.length) {
    lines.push('', 'Arguments:');
    const rows = command.args.map((arg) => [
      `<${arg.name}>`,
      arg.description + (arg.choices ? ` (one of: ${arg.choices.join(', ')})` : ''),
    ]);
    lines.push(...table(rows));
  }
  const optionRows = Object.entries(command.options).map(([name, option]) => {
    const value = option.type === 'string' ? ` ${option.valueName ?? `<${option.choices?.join('|') ?? 'value'}>`}` : '';
    const flag = `${option.short ? `-${option.short}, ` : ''}--${name}${value}`;
    const extra = option.default !== undefined ? ` (default: ${option.default})` : '';
    return [flag, option.description + extra];
  });
  optionRows.push(['-h, --help', 'Show this help']);
  lines.push('', 'Options:', ...table(optionRows));
  if (command.examples?.length) {
    lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  }
  return `${lines.join('\n')}\n`;
}

/** `taskmachine viz <what> <machine> [options]` */
export function usageLine(command: Command): string {
  const args = command.args.map((arg) => {
    if (arg.choices?.length === 1) return arg.optional ? `[${arg.choices[0]}]` : arg.choices[0]!;
    const text = arg.choices ? arg.choices.join('|') : arg.name;
    const more = arg.repeated === true ? '...' : '';
    return arg.optional ? `[${text}]${more}` : `<${text}>${more}`;
  });
  return ['taskmachine', command.name, ...args, '[options]'].join(' ');
}

/** Beyond this, a left column would leave its descriptions too narrow: they go under it instead. */
const WIDEST_LEFT = 24;

function table(rows: readonly (readonly string[])[]): string[] {
  const width = Math.max(...rows.map(([left]) => left!.length)) + 2;
  if (width - 2 <= WIDEST_LEFT) return rows.flatMap(([left, right]) => fill(right!, `  ${left!.padEnd(width)}`, ' '.repeat(2 + width)));
  return rows.flatMap(([left, right]) => [`  ${left}`, ...fill(right!, ' '.repeat(8), ' '.repeat(8))]);
}
