// Promises that a network backend resolves when frames arrive, so that a VMM
// idling in WFI wakes for them (the VMM races them against its timers).

export class Wakeups {
  private waiters: (() => void)[] = [];

  /** Resolves at the next wake(), or at once when `ready` (e.g. the link is gone). */
  next(ready = false): Promise<void> {
    if (ready) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Resolves every promise handed out so far. */
  wake(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const r of w) r();
  }
}
