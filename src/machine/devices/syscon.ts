// sifive,test1 syscon: the guest writes 0x5555 to power off, 0x7777 to reboot,
// or 0x3333 | (code << 16) to report a failure and power off.

import type { MmioDevice } from '../bus.js';

export const SYSCON_PASS = 0x5555;
export const SYSCON_RESET = 0x7777;
export const SYSCON_FAIL = 0x3333;

export type SysconEvent =
  { kind: 'poweroff' } | { kind: 'reboot' } | { kind: 'fail'; code: number };

export class Syscon implements MmioDevice {
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
}
