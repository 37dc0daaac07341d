// Long-running actions as Incus shapes them: each start, stop or restart is an operation with
// an id, a status (Running, Success, Failure) and an error, that clients poll
// (/v1/operations/ID) or wait for (/v1/operations/ID/wait). Kept in memory, the last 500.

import { randomUUID } from 'node:crypto';

export type OperationStatus = 'Running' | 'Success' | 'Failure';

export interface Operation {
  id: string;
  description: string;
  status: OperationStatus;
  resources: { guests: string[] };
  createdAt: string;
  updatedAt: string;
  err: string;
}

const KEEP = 500;

export class Operations {
  private readonly ops = new Map<string, { op: Operation; done: Promise<void> }>();

  /** Starts `work` as an operation; its failure becomes the operation's err. */
  run(description: string, guest: string, work: () => Promise<void>): Operation {
    const now = new Date().toISOString();
    const op: Operation = {
      id: randomUUID(),
      description,
      status: 'Running',
      resources: { guests: [`/v1/guests/${guest}`] },
      createdAt: now,
      updatedAt: now,
      err: '',
    };
    const done = work().then(
      () => {
        op.status = 'Success';
        op.updatedAt = new Date().toISOString();
      },
      (e: unknown) => {
        op.status = 'Failure';
        op.err = e instanceof Error ? e.message : String(e);
        op.updatedAt = new Date().toISOString();
      },
    );
    this.ops.set(op.id, { op, done });
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
