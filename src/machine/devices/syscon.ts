// sifive,test1 syscon: the guest writes 0x5555 to power off, 0x7777 to reboot,
// or 0x3333 | (code << 16) to report a failure and power off. It keeps no state
// of its own: its saved state is empty, and versioned like every part's.

import type { MmioDevice } from '../bus.js';
import type { Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';

export const SYSCON_PASS = 0x5555;
export const SYSCON_RESET = 0x7777;
export const SYSCON_FAIL = 0x3333;

export type SysconEvent =
  { kind: 'poweroff' } | { kind: 'reboot' } | { kind: 'fail'; code: number };

export type SysconState = Record<string, never>;

export class Syscon implements MmioDevice, Persistent<SysconState> {
  readonly stateId = 'sifive-test';
  readonly stateVersion = 1;

  constructor(private readonly onEvent: (e: SysconEvent) => void) {}

  read(): number {
    return 0;
  }

  write(offset: number, size: number, value: number): void {
    if (offset !== 0 || size !== 4) return;
    const kind = value & 0xffff;
    if (kind === SYSCON_PASS) this.onEvent({ kind: 'poweroff' });
    else if (kind === SYSCON_RESET) this.onEvent({ kind: 'reboot' });
    else if (kind === SYSCON_FAIL) this.onEvent({ kind: 'fail', code: value >>> 16 });
  }

  saveState(): SysconState {
    return {};
  }

  checkState(data: unknown): SysconState {
    return StateReader.read(data, () => ({}));
  }

  loadState(): void {}
}
