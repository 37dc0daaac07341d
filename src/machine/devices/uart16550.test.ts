// NS16550A: transmit, receive FIFO and its limits, FCR, DLAB, IIR priority
// and clearing rules, the interrupt line, loopback and MSR, saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';
import {
  Uart16550,
  UART_DLL,
  UART_DLM,
  UART_FCR,
  UART_IER,
  UART_IIR,
  UART_LCR,
  UART_LSR,
  UART_MCR,
  UART_MSR,
  UART_RBR,
  UART_SCR,
  UART_THR,
  IER_EDSSI,
  IER_ELSI,
  IER_ERBFI,
  IER_ETBEI,
  IIR_CTI,
  IIR_MSI,
  IIR_NO_INT,
  IIR_RDI,
  IIR_RLSI,
  IIR_THRI,
  LCR_DLAB,
  LSR_DR,
  LSR_OE,
  LSR_TEMT,
  LSR_THRE,
  MCR_DTR,
  MCR_LOOP,
  MCR_OUT1,
  MCR_OUT2,
  MCR_RTS,
  MSR_CTS,
  MSR_DCD,
  MSR_DCTS,
  MSR_DDCD,
  MSR_DDSR,
  MSR_DSR,
  MSR_RI,
  MSR_TERI,
} from './uart16550.js';
import { FakeLine } from './testIrq.js';

function setup(): { uart: Uart16550; out: number[]; line: FakeLine; drained: { n: number } } {
  const out: number[] = [];
  const drained = { n: 0 };
  const line = new FakeLine();
  const uart = new Uart16550({ write: (b) => out.push(b), rxDrained: () => drained.n++ }, line);
  return { uart, out, line, drained };
}

const r = (u: Uart16550, reg: number): number => u.read(reg, 1);
const w = (u: Uart16550, reg: number, v: number): void => u.write(reg, 1, v);
const iid = (u: Uart16550): number => r(u, UART_IIR) & 0x0f;

test('transmit: THR bytes go to the backend; THRE and TEMT always set', () => {
  const { uart, out } = setup();
  for (const c of 'hi\n') w(uart, UART_THR, c.charCodeAt(0));
  assert.deepEqual(out, [0x68, 0x69, 0x0a]);
  assert.equal(r(uart, UART_LSR), LSR_THRE | LSR_TEMT);
});

test('reset state: IIR no interrupt, FIFOs off, MSR shows DCD DSR CTS', () => {
  const { uart, line } = setup();
  assert.equal(r(uart, UART_IIR), IIR_NO_INT);
  assert.equal(r(uart, UART_IER), 0);
  assert.equal(r(uart, UART_MSR), MSR_DCD | MSR_DSR | MSR_CTS);
  assert.equal(line.level, false);
});

test('DLAB switches offsets 0 and 1 to the divisor latch; SCR is plain storage', () => {
  const { uart, out } = setup();
  w(uart, UART_LCR, LCR_DLAB | 3);
  w(uart, UART_DLL, 0x12);
  w(uart, UART_DLM, 0x34);
  assert.equal(r(uart, UART_DLL), 0x12);
  assert.equal(r(uart, UART_DLM), 0x34);
  w(uart, UART_LCR, 3);
  assert.equal(r(uart, UART_LCR), 3);
  assert.equal(r(uart, UART_IER), 0, 'IER untouched by the DLM write');
  assert.deepEqual(out, [], 'DLL write is not a transmit');
  w(uart, UART_SCR, 0xa5);
  assert.equal(r(uart, UART_SCR), 0xa5);
});

test('receive with FIFOs off: one byte of holding register', () => {
  const { uart } = setup();
  assert.equal(uart.rxSpace(), 1);
  assert.equal(uart.receive([0x41, 0x42]), 1);
  assert.equal(uart.rxSpace(), 0);
  assert.equal(r(uart, UART_LSR) & LSR_DR, LSR_DR);
  assert.equal(r(uart, UART_RBR), 0x41);
  assert.equal(r(uart, UART_LSR) & LSR_DR, 0);
  assert.equal(r(uart, UART_RBR), 0, 'empty RBR reads 0');
});

test('receive FIFO: 16 bytes, in order; the host never overruns it', () => {
  const { uart, drained } = setup();
  w(uart, UART_FCR, 0x01);
  assert.equal(uart.rxSpace(), 16);
  const input = Array.from({ length: 20 }, (_, i) => 0x30 + i);
  assert.equal(uart.receive(input), 16);
  assert.equal(uart.rxSpace(), 0);
  assert.equal(uart.receive([1]), 0);
  assert.equal(r(uart, UART_LSR) & LSR_OE, 0, 'no overrun from receive()');
  const got: number[] = [];
  while (r(uart, UART_LSR) & LSR_DR) got.push(r(uart, UART_RBR));
  assert.deepEqual(got, input.slice(0, 16));
  assert.equal(drained.n, 1, 'rxDrained once, when the FIFO became empty');
  assert.equal(uart.receive(input.slice(16)), 4);
});

test('FCR: IIR shows FIFOs enabled; RX reset empties the FIFO; disabling FIFOs empties it', () => {
  const { uart } = setup();
  w(uart, UART_FCR, 0xc1);
  assert.equal(r(uart, UART_IIR) & 0xc0, 0xc0);
  uart.receive([1, 2, 3]);
  w(uart, UART_FCR, 0xc3);
  assert.equal(r(uart, UART_LSR) & LSR_DR, 0);
  uart.receive([1, 2, 3]);
  w(uart, UART_FCR, 0);
  assert.equal(r(uart, UART_LSR) & LSR_DR, 0);
  assert.equal(r(uart, UART_IIR) & 0xc0, 0);
  assert.equal(uart.rxSpace(), 1);
});

test('received-data interrupt at the trigger level, character timeout below it', () => {
  const { uart, line } = setup();
  w(uart, UART_FCR, 0x81); // FIFO on, trigger 8
  w(uart, UART_IER, IER_ERBFI);
  assert.equal(line.level, false);
  uart.receive([1, 2, 3]);
  assert.equal(line.level, true);
  assert.equal(iid(uart), IIR_CTI);
  uart.receive([4, 5, 6, 7, 8]);
  assert.equal(iid(uart), IIR_RDI);
  r(uart, UART_RBR);
  assert.equal(iid(uart), IIR_CTI, 'below the trigger again');
  while (r(uart, UART_LSR) & LSR_DR) r(uart, UART_RBR);
  assert.equal(iid(uart), IIR_NO_INT);
  assert.equal(line.level, false);
  // Trigger levels 1, 4 and 14.
  for (const [fcr, level] of [
    [0x01, 1],
    [0x41, 4],
    [0xc1, 14],
  ]) {
    w(uart, UART_FCR, fcr);
    uart.receive(Array(level - 1).fill(0));
    if (level > 1) assert.equal(iid(uart), IIR_CTI);
    uart.receive([0]);
    assert.equal(iid(uart), IIR_RDI, `trigger ${level}`);
    w(uart, UART_FCR, fcr | 0x02);
  }
  // Without FIFOs any byte is "data available".
  w(uart, UART_FCR, 0);
  uart.receive([9]);
  assert.equal(iid(uart), IIR_RDI);
});

test('THR-empty interrupt: raised on enabling and after writes; cleared by reading IIR', () => {
  const { uart, line } = setup();
  w(uart, UART_IER, IER_ETBEI);
  assert.equal(line.level, true);
  assert.equal(iid(uart), IIR_THRI);
  assert.equal(line.level, false, 'reading IIR cleared it');
  assert.equal(iid(uart), IIR_NO_INT);
  w(uart, UART_THR, 0x41);
  assert.equal(line.level, true, 'the transmitter emptied again');
  // Linux's THRE test: disable and re-enable ETBEI re-asserts it.
  assert.equal(iid(uart), IIR_THRI);
  w(uart, UART_IER, 0);
  w(uart, UART_IER, IER_ETBEI);
  assert.equal(iid(uart), IIR_THRI);
  // Disabling ETBEI drops it.
  w(uart, UART_THR, 0x42);
  w(uart, UART_IER, 0);
  assert.equal(line.level, false);
  w(uart, UART_IER, IER_ETBEI | IER_ERBFI);
  assert.equal(line.level, true);
});

test('IIR priority: line status > data > timeout > THR empty > modem status', () => {
  const { uart } = setup();
  w(uart, UART_FCR, 0x41); // trigger 4
  w(uart, UART_IER, IER_ERBFI | IER_ETBEI | IER_ELSI | IER_EDSSI);
  // THRE latched by enabling ETBEI; make a modem-status delta and an overrun in loopback.
  w(uart, UART_MCR, MCR_LOOP | MCR_RTS);
  for (let i = 0; i < 17; i++) w(uart, UART_THR, i); // 16 fit, the 17th overruns
  assert.equal(iid(uart), IIR_RLSI);
  assert.equal(r(uart, UART_LSR) & LSR_OE, LSR_OE, 'OE reported once');
  assert.equal(r(uart, UART_LSR) & LSR_OE, 0, 'and cleared by reading LSR');
  assert.equal(iid(uart), IIR_RDI);
  for (let i = 0; i < 13; i++) r(uart, UART_RBR);
  assert.equal(iid(uart), IIR_CTI);
  for (let i = 0; i < 3; i++) r(uart, UART_RBR);
  assert.equal(iid(uart), IIR_THRI);
  assert.equal(iid(uart), IIR_MSI, 'THRE cleared by the previous IIR read');
  assert.equal(
    r(uart, UART_MSR) & 0x0f,
    MSR_DDSR | MSR_DDCD,
    'DSR and DCD dropped entering loopback',
  );
  assert.equal(iid(uart), IIR_NO_INT);
});

test('loopback: THR comes back as input, MCR drives MSR with delta bits, host input refused', () => {
  const { uart, out } = setup();
  w(uart, UART_FCR, 0x01);
  w(uart, UART_MCR, MCR_LOOP);
  assert.equal(uart.rxSpace(), 0);
  assert.equal(uart.receive([1, 2]), 0);
  w(uart, UART_THR, 0x5a);
  assert.deepEqual(out, []);
  assert.equal(r(uart, UART_RBR), 0x5a);
  r(uart, UART_MSR); // clear the deltas of entering loopback
  w(uart, UART_MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2);
  assert.equal(
    r(uart, UART_MSR),
    MSR_CTS | MSR_DSR | MSR_RI | MSR_DCD | MSR_DCTS | MSR_DDSR | MSR_DDCD,
  );
  w(uart, UART_MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT2);
  assert.equal(r(uart, UART_MSR), MSR_CTS | MSR_DSR | MSR_DCD | MSR_TERI, 'RI trailing edge');
  w(uart, UART_MCR, 0);
  r(uart, UART_MSR);
  assert.equal(r(uart, UART_MSR), MSR_DCD | MSR_DSR | MSR_CTS);
  assert.equal(uart.rxSpace(), 16);
  w(uart, UART_THR, 0x5b);
  assert.deepEqual(out, [0x5b]);
});

test('save/restore round trip keeps registers, FIFO contents and the interrupt', () => {
  const a = setup();
  w(a.uart, UART_LCR, LCR_DLAB);
  w(a.uart, UART_DLL, 1);
  w(a.uart, UART_DLM, 2);
  w(a.uart, UART_LCR, 0x03);
  w(a.uart, UART_FCR, 0x81);
  w(a.uart, UART_IER, IER_ERBFI | IER_ETBEI);
  w(a.uart, UART_MCR, MCR_OUT2 | MCR_RTS | MCR_DTR);
  w(a.uart, UART_SCR, 0x77);
  a.uart.receive([10, 20, 30]);
  r(a.uart, UART_RBR);
  const b = setup();
  const state = assertRoundTrip(a.uart, b.uart);
  assert.deepEqual(state.rx, [20, 30]);
  assert.equal(b.line.level, true);
  assert.equal(r(b.uart, UART_IIR), 0xc0 | IIR_CTI);
  assert.equal(r(b.uart, UART_RBR), 20);
  assert.equal(r(b.uart, UART_RBR), 30);
  assert.equal(r(b.uart, UART_SCR), 0x77);
  w(b.uart, UART_LCR, LCR_DLAB | 3);
  assert.equal(r(b.uart, UART_DLL), 1);
  assert.equal(r(b.uart, UART_DLM), 2);
});

test('bad states are refused and change nothing', () => {
  const a = setup();
  w(a.uart, UART_FCR, 0x01);
  a.uart.receive([1, 2, 3]);
  const state = a.uart.saveState();
  assertRefused(a.uart, { ...state, rx: Array(17).fill(0) }, /rx must be a list of 0 to 16/);
  assertRefused(a.uart, { ...state, fifo: false }, /rx must be a list of 0 to 1/);
  assertRefused(a.uart, { ...state, ier: 300 }, /ier must be an integer from 0 to 15/);
  assertRefused(a.uart, { ...state, mcr: 0x20 }, /mcr must be an integer from 0 to 31/);
  assertRefused(a.uart, { ...state, lsrErrors: 1 }, /lsrErrors must be 0 or 2/);
  assertRefused(a.uart, { ...state, rx: [1, 256] }, /rx\[1\] must be an integer from 0 to 255/);
  assert.equal(a.uart.rxSpace(), 13);
  assertMutationsRefused(a.uart);
});

test('works without an interrupt line (polled)', () => {
  const out: number[] = [];
  const uart = new Uart16550({ write: (b) => out.push(b) });
  w(uart, UART_IER, IER_ETBEI);
  w(uart, UART_THR, 0x21);
  uart.receive([7]);
  assert.equal(r(uart, UART_RBR), 7);
  assert.deepEqual(out, [0x21]);
});
