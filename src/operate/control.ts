// Operating a stored run from outside the process that drives it, for the CLI and the web UI alike:
// a manual change goes to the run's live owner as a control request, or is applied here.
import { hostname } from 'node:os';
import { RunOwnedError } from '../errors.ts';
import { ownerStatus } from '../runtime/opening/ownerStatus.ts';
import type { ControlRequestWrite, Store, StoredLease } from '../stores/index.ts';

/** Whether a live process drives the run (one on this host whose pid is gone does not). */
export function isDriven(lease: StoredLease | undefined): boolean {
  return ownerStatus(lease, Date.now()).status === 'live';
}

/** How a manual change reached the run. */
export interface ControlOutcome {
  /** What changed, e.g. `load: failed → success`. */
  readonly message: string;
  /** The run's owner applied it (pid and host), or this process did (`undefined`). */
  readonly owner: StoredLease['owner'] | undefined;
}

/** A change the run's owner (or the machine, through it) refused: exit 2, like any illegal change. */
export class ControlRefusedError extends Error {
  override name = 'IllegalTransitionError';
}

/** How long the CLI waits for a live owner to answer a control request. */
const ANSWER_WAIT_MS = 60_000;
const POLL_MS = 100;

/**
 * Applies one manual change to a stored run. With no live owner, `direct` applies it in this
 * process (the run opened for manual changes, its lease held meanwhile). When another live process
 * drives the run, the change is stored as a control request, which the owner applies through the
 * machines in its next turn; this waits for its answer: applied (with what changed) or refused
 * (with the machine's error). If the owner lets go of the run before it answers, the request is
 * withdrawn and the change applied directly.
 */
export async function applyChange(
  store: Store,
  runId: string,
  request: Omit<ControlRequestWrite, 'runId' | 'requestedAt' | 'requestedBy'>,
  direct: () => Promise<string>,
): Promise<ControlOutcome> {
  if (!isDriven(await store.getLease(runId))) {
    try {
      return { message: await direct(), owner: undefined };
    } catch (error) {
      // Another process took the run meanwhile: ask it instead.
      if (!(error instanceof RunOwnedError)) throw error;
    }
  }
  const outcome = await askOwner(store, runId, request);
  return outcome ?? { message: await direct(), owner: undefined };
}

/** Stores the request and waits for the owner's answer; `undefined` when the owner went away first. */
export async function askOwner(
  store: Store,
  runId: string,
  request: Omit<ControlRequestWrite, 'runId' | 'requestedAt' | 'requestedBy'>,
): Promise<ControlOutcome | undefined> {
  const stored = await store.requestControl({
    runId,
    ...request,
    requestedAt: Date.now(),
    requestedBy: `taskmachine ${request.action} (pid ${process.pid} on ${hostname()})`,
  });
  const deadline = Date.now() + ANSWER_WAIT_MS;
  for (;;) {
    const answer = await store.getControl(runId, stored.id);
    if (answer?.status === 'applied') return { message: answer.message ?? '', owner: (await store.getLease(runId))?.owner };
    if (answer?.status === 'refused') throw new ControlRefusedError(answer.message ?? `the run's owner refused the ${request.action}`);
    const lease: StoredLease | undefined = await store.getLease(runId);
    if (!isDriven(lease)) {
      const owner = lease?.owner;
      // The owner ended or stopped without answering: withdraw the request (so a later owner never
      // applies it) and let the caller apply the change itself.
      const withdrawn = 'withdrawn: the run had no owner any more';
      await store.commit({ runId, controls: [{ id: stored.id, status: 'refused', message: withdrawn, at: Date.now() }] }).catch(() => {});
      // (The owner may have answered just before it went: its answer stands.)
      const last = await store.getControl(runId, stored.id);
      if (last?.status === 'applied') return { message: last.message ?? '', owner };
      if (last?.status === 'refused' && last.message !== withdrawn) throw new ControlRefusedError(last.message ?? 'refused');
      return undefined;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the process driving run '${runId}' (pid ${lease?.owner.pid} on ${lease?.owner.host}) did not answer within ${ANSWER_WAIT_MS / 1000} s; ` +
          `the ${request.action} (request ${stored.id}) stays pending and is applied when it next reads its requests.`,
      );
    }
    await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));
  }
}
