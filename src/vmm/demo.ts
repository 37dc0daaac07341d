// Runs the built-in demo program (src/cli/demoImage.ts) on a bare hart with a
// UART and a syscon, until the guest powers off.

import { Bus } from '../machine/bus.js';
import { Ram } from '../machine/ram.js';
import { Hart, StopReason } from '../machine/hart/hart.js';
import { Syscon, type SysconEvent } from '../machine/devices/syscon.js';
import { Uart16550 } from '../machine/devices/uart16550.js';
import { DEMO_IMAGE_BASE64 } from '../cli/demoImage.js';

export interface DemoResult {
  output: string;
  event: SysconEvent | null;
  instructions: number;
}

export function runDemo(
  onByte: (b: number) => void = () => {},
  maxInstructions = 50_000_000,
): DemoResult {
  const ram = new Ram(0x80000000, 1 << 20);
  const bus = new Bus(ram);
  const hart = new Hart(bus);
  let output = '';
  let event: SysconEvent | null = null;
  bus.map(
    'uart0',
    0x10000000,
    0x100,
    new Uart16550({
      write(b) {
        output += String.fromCharCode(b);
        onByte(b);
      },
    }),
  );
  bus.map(
    'syscon',
    0x100000,
    0x1000,
    new Syscon((e) => {
      event = e;
      hart.requestStop();
    }),
  );
  ram.write(0x80000000, Buffer.from(DEMO_IMAGE_BASE64, 'base64'));
  hart.pc = 0x80000000n;
  while (event === null && hart.instret < maxInstructions) {
    const r = hart.run(1_000_000);
    if (r === StopReason.Fault)
      throw new Error(`demo stopped on an internal error: ${hart.lastError}`);
    if (r === StopReason.Halt) break;
  }
  return { output, event, instructions: hart.instret };
}
