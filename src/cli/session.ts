import type { FlowRunHandle } from '../runtime/runFlow.ts';
import type { FlowRunRecord } from '../records.ts';
import { useColor } from './ansi.ts';
import { UsageError } from './command.ts';
import { liveProgress, lineProgress, summary } from './progress.ts';
import { runRecordToJson } from './serialize.ts';

/** How a command shows a run and what it prints when the run ends. */
export interface SessionOptions {
  readonly flowId: string;
  readonly json: boolean;
  readonly view: string;
  readonly graceMs: number;
  /** Whether the run is kept in a store (so it can be resumed after an interrupt). */
  readonly durable: boolean;
  /** How the first progress line describes the run: `started` or `resumed`. */
  readonly verb?: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Parses `--grace`. */
export function parseGrace(text: string, command: string): number {
  const graceMs = Number(text);
  if (!Number.isFinite(graceMs) || graceMs < 0) {
    throw new UsageError(`${command}: --grace must be a number of ms ≥ 0, got '${text}'.`);
  }
  return graceMs;
}

/** Parses `--concurrency`. */
export function parseConcurrency(text: string, command: string): number {
  const concurrency = Number(text);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(`${command}: --concurrency must be a whole number ≥ 1, got '${text}'.`);
  }
  return concurrency;
}

/**
 * Shows the run's progress until it settles and returns the exit code. SIGINT/SIGTERM shut the run
 * down gracefully (running attempts are aborted with reason 'preempt' and get `graceMs` to
 * checkpoint), print how to resume it, and exit 130/143; a second signal exits at once (the store
 * is transactional, so what is in it stays consistent).
 */
export async function runSession(handle: FlowRunHandle, options: SessionOptions): Promise<number> {
  const { stdout, stderr } = options;
  const isTTY = process.stdout.isTTY === true;
  const view = options.json ? 'none' : options.view === 'auto' ? (isTTY ? 'live' : 'lines') : options.view;
  const progress =
    view === 'live'
      ? liveProgress(handle, options.flowId, stdout, Date.now, useColor(isTTY))
      : view === 'lines'
        ? lineProgress(handle, options.flowId, stdout, Date.now, options.verb)
        : undefined;
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  let onShutdown!: (record: Promise<FlowRunRecord>) => void;
  const shutdown = new Promise<FlowRunRecord>((resolve) => {
    onShutdown = (record) => resolve(record);
  });
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interrupted !== undefined) {
      stderr(`\n${signal} again: exiting now. The store keeps the last committed turn.\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    interrupted = signal;
    stderr(`\n${signal}: stopping — running attempts get ${options.graceMs} ms to finish or checkpoint (send it again to exit at once)\n`);
    onShutdown(handle.shutdown({ graceMs: options.graceMs }));
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const settledOrShutdown = Promise.race([handle.settled(), shutdown]);
    const record = await settledOrShutdown;
    await handle.persisted();
    if (interrupted !== undefined) {
      progress?.stop(record);
      if (options.durable) stderr(`run ${record.runId} stopped; continue it with:\n  taskmachine resume ${record.runId}\n`);
      else stderr(`run ${record.runId} stopped (it was not kept: --store memory).\n`);
      return interrupted === 'SIGINT' ? 130 : 143;
    }
    progress?.stop(record);
    if (options.json) stdout(`${runRecordToJson(record)}\n`);
    else if (progress === undefined) stderr(summary(record, runDuration(record), false));
    if (record.state === 'running' && options.durable && !options.json) {
      stdout(record.waitingOn.map((key) => `  taskmachine resume-task ${record.runId} ${key}\n`).join(''));
    }
    return record.state === 'success' ? 0 : 1;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

/** How long the run took by its own record (0 when it never started). */
function runDuration(record: FlowRunRecord): number {
  return record.startedAt === undefined ? 0 : (record.endedAt ?? record.startedAt) - record.startedAt;
}
