import type { Command } from '../command.ts';
import { checkCommand } from './check.ts';
import { deleteCommand, pruneCommand } from './cleanup.ts';
import { logsCommand } from './logs.ts';
import { clearCommand, setStateCommand } from './manual.ts';
import { cancelCommand } from './operate.ts';
import { resumeCommand, resumeTaskCommand, sendEventCommand } from './resume.ts';
import { runCommand } from './run.ts';
import { statusCommand } from './status.ts';
import { uiCommand } from './ui.ts';
import { vizCommand } from './viz.ts';
import { workerCommand } from './worker.ts';

/**
 * Every command of the `taskmachine` CLI, in the order `--help` lists them. To add one, write
 * `src/cli/commands/<name>.ts` exporting `defineCommand({...})` and add it here.
 */
export const commands: readonly Command[] = [
  runCommand,
  statusCommand,
  logsCommand,
  resumeCommand,
  resumeTaskCommand,
  setStateCommand,
  clearCommand,
  sendEventCommand,
  cancelCommand,
  deleteCommand,
  pruneCommand,
  checkCommand,
  vizCommand,
  uiCommand,
  workerCommand,
];
