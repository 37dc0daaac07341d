// Long-running actions as Incus shapes them: each start, stop or restart is an operation with
// an id, a status (Running, Success, Failure, Cancelled) and an error, that clients poll
// (/v1/operations/ID), wait for (/v1/operations/ID/wait) or cancel (DELETE /v1/operations/ID).
// Kept in memory, the last 500.
//
// Cancelling: the work says, as it goes, whether it can be cancelled now (`ctl.cancellable`,
// with a handler that runs at once, synchronously, so that nothing happens between the check
// and the undoing) or why not (`ctl.uncancellable`). A cancel that is honoured aborts
// `ctl.signal`; the work then ends by throwing OperationCancelled, and the operation is
// Cancelled. Work that never says anything cannot be cancelled.

import { randomUUID } from 'node:crypto';
import { conflict, notFound } from './errors.js';

export type OperationStatus = 'Running' | 'Success' | 'Failure' | 'Cancelled';

export interface Operation {
  id: string;
  description: string;
  status: OperationStatus;
  resources: { guests: string[] };
  /** Whether DELETE /v1/operations/ID would cancel it now. */
  mayCancel: boolean;
  createdAt: string;
  updatedAt: string;
  err: string;
  /** What the work reports as it runs (a migration: its statistics); null when nothing. */
  metadata: Record<string, unknown> | null;
}

/** What a running operation's work is handed. */
export interface OperationControl {
  /** Aborted once a cancel is honoured. */
  readonly signal: AbortSignal;
  /** From now on a cancel is honoured: `undo` runs at once (it may throw a HostError to refuse). */
  cancellable(undo: () => void): void;
  /** From now on a cancel is refused with this message. */
  uncancellable(why: string): void;
  /** Shows `metadata` in the operation (its progress). */
  report(metadata: Record<string, unknown>): void;
}

/** Thrown by work that stops because it was cancelled. */
export class OperationCancelled extends Error {
  override readonly name = 'OperationCancelled';
}

const KEEP = 500;

interface Entry {
  op: Operation;
  /** Resolves when the work has ended (whatever the status). */
  done: Promise<void>;
  undo: (() => void) | null;
  refusal: string;
  abort: AbortController;
}

export class Operations {
  private readonly ops = new Map<string, Entry>();

  /** Starts `work` as an operation; its failure becomes the operation's err. */
  run(
    description: string,
    guest: string | null,
    work: (ctl: OperationControl) => Promise<void>,
  ): Operation {
    const now = new Date().toISOString();
    const op: Operation = {
      id: randomUUID(),
      description,
      status: 'Running',
      resources: { guests: guest === null ? [] : [`/v1/guests/${guest}`] },
      mayCancel: false,
      createdAt: now,
      updatedAt: now,
      err: '',
      metadata: null,
    };
    const entry: Entry = {
      op,
      done: Promise.resolve(),
      undo: null,
      refusal: `'${description}' cannot be cancelled`,
      abort: new AbortController(),
    };
    const ctl: OperationControl = {
      signal: entry.abort.signal,
      cancellable: (undo) => {
        entry.undo = undo;
        op.mayCancel = true;
      },
      uncancellable: (why) => {
        entry.undo = null;
        entry.refusal = why;
        op.mayCancel = false;
      },
      report: (metadata) => {
        op.metadata = metadata;
        op.updatedAt = new Date().toISOString();
      },
    };
    const end = (status: OperationStatus, err = ''): void => {
      op.status = status;
      op.err = err;
      op.mayCancel = false;
      entry.undo = null;
      op.updatedAt = new Date().toISOString();
    };
    entry.done = (async () => work(ctl))().then(
      () => end('Success'),
      (e: unknown) => {
        if (e instanceof OperationCancelled) end('Cancelled', e.message);
        else end('Failure', e instanceof Error ? e.message : String(e));
      },
    );
    this.ops.set(op.id, entry);
    if (this.ops.size > KEEP) {
      for (const [id, o] of this.ops) {
        if (o.op.status !== 'Running') {
          this.ops.delete(id);
          break;
        }
      }
    }
    return op;
  }

  get(id: string): Operation | null {
    return this.ops.get(id)?.op ?? null;
  }

  list(): Operation[] {
    return [...this.ops.values()].map((o) => o.op);
  }

  /** Waits up to `timeoutMs` for the operation to end; returns it as it is then. */
  async wait(id: string, timeoutMs: number): Promise<Operation | null> {
    const o = this.ops.get(id);
    if (!o) return null;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([o.done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    return o.op;
  }

  /**
   * Cancels a running operation where its work allows it now: runs the work's undo at once and
   * aborts its signal, or throws (404 unknown, 409 ended or not cancellable now; then nothing
   * changed). The work ends soon after; `cancel` waits for that.
   */
  cancelNow(id: string): Operation {
    const o = this.ops.get(id);
    if (!o) throw notFound('no such operation');
    const { op } = o;
    if (op.status !== 'Running') {
      throw conflict(
        `operation ${id} (${op.description}) has ended (${op.status}); only a running operation is cancelled`,
      );
    }
    if (!o.undo) throw conflict(`${o.refusal}; nothing was changed`);
    o.undo(); // may refuse with a HostError; then nothing is aborted
    o.undo = null;
    op.mayCancel = false;
    o.abort.abort();
    return op;
  }

  /** cancelNow, then the operation once its work has ended (or as it is after `timeoutMs`). */
  async cancel(id: string, timeoutMs = 10_000): Promise<Operation> {
    const op = this.cancelNow(id);
    return (await this.wait(id, timeoutMs)) ?? op;
  }

  /** Waits for every running operation (daemon shutdown), at most `timeoutMs`. */
  async settle(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.ops.values()].map((o) => o.done)),
      new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}
