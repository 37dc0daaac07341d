// FDT writer: header, block layout and alignment, string dedup, property
// encodings, reservations and padding, checked by a small reader here and by
// Debian's dtc (device-tree-compiler) decompiling the blob.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_MAGIC,
  FDT_PROP,
  FdtError,
  FdtWriter,
} from './fdtWriter.js';

interface ParsedNode {
  name: string;
  props: Map<string, Uint8Array>;
  children: ParsedNode[];
}

interface Parsed {
  header: number[];
  reservations: [bigint, bigint][];
  root: ParsedNode;
  strings: string[];
}

/** A strict reader of what the writer produces (no NOPs). */
function parse(blob: Uint8Array): Parsed {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const header = Array.from({ length: 10 }, (_, i) => v.getUint32(i * 4));
  const [magic, total, offStruct, offStrings, offRsv, , , , sizeStrings, sizeStruct] = header;
  assert.equal(magic, FDT_MAGIC);
  assert.equal(total, blob.length);
  assert.equal(offRsv % 8, 0);
  assert.equal(offStruct % 4, 0);
  const reservations: [bigint, bigint][] = [];
  for (let o = offRsv; ; o += 16) {
    const a = v.getBigUint64(o);
    const s = v.getBigUint64(o + 8);
    if (a === 0n && s === 0n) {
      assert.equal(o + 16, offStruct, 'struct block follows the reservation block');
      break;
    }
    reservations.push([a, s]);
  }
  const strBytes = blob.subarray(offStrings, offStrings + sizeStrings);
  const str = (off: number): string => {
    const end = strBytes.indexOf(0, off);
    return new TextDecoder().decode(strBytes.subarray(off, end));
  };
  let o = offStruct;
  const u32 = (): number => {
    const x = v.getUint32(o);
    o += 4;
    return x;
  };
  const stack: ParsedNode[] = [];
  let root: ParsedNode | null = null;
  for (;;) {
    const tok = u32();
    if (tok === FDT_BEGIN_NODE) {
      const end = blob.indexOf(0, o);
      const node: ParsedNode = {
        name: new TextDecoder().decode(blob.subarray(o, end)),
        props: new Map(),
        children: [],
      };
      o = (end + 4) & ~3;
      if (stack.length) stack[stack.length - 1].children.push(node);
      else root = node;
      stack.push(node);
    } else if (tok === FDT_PROP) {
      const len = u32();
      const nameoff = u32();
      stack[stack.length - 1].props.set(str(nameoff), blob.slice(o, o + len));
      o = (o + len + 3) & ~3;
    } else if (tok === FDT_END_NODE) {
      stack.pop();
    } else {
      assert.equal(tok, FDT_END);
      break;
    }
  }
  assert.equal(o - offStruct, sizeStruct);
  assert.equal(stack.length, 0);
  const strings = new TextDecoder().decode(strBytes).split('\0').slice(0, -1);
  return { header, reservations, root: root!, strings };
}

function sample(): FdtWriter {
  const fdt = new FdtWriter();
  const root = fdt.root;
  root.u32('#address-cells', 2).u32('#size-cells', 2).string('compatible', 'berth,test');
  const cpus = root.child('cpus');
  cpus.u32('#address-cells', 1).u32('#size-cells', 0);
  const intc = cpus.child('cpu@0').child('interrupt-controller');
  intc.u32('#interrupt-cells', 1).empty('interrupt-controller');
  const ph = fdt.phandle(intc);
  const dev = root.child('dev@10000000');
  dev.u64('reg', 0x10000000, 0x1000);
  dev.cells('interrupts-extended', [ph, 3, ph, 7]);
  dev.strings('compatible', ['vendor,a', 'vendor,b']);
  dev.bytes('blob', new Uint8Array([1, 2, 3]));
  dev.u64('big', 0xfedcba9876543210n);
  return fdt;
}

test('header, blocks, property encodings and phandles', () => {
  const blob = sample().finish({ bootCpuId: 0 });
  const p = parse(blob);
  assert.equal(p.header[5], 17, 'version');
  assert.equal(p.header[6], 16, 'last compatible version');
  assert.equal(p.root.name, '');
  assert.deepEqual(Array.from(p.root.props.get('#address-cells')!), [0, 0, 0, 2]);
  assert.equal(new TextDecoder().decode(p.root.props.get('compatible')), 'berth,test\0');
  const intc = p.root.children[0].children[0].children[0];
  assert.equal(intc.name, 'interrupt-controller');
  assert.equal(intc.props.get('interrupt-controller')!.length, 0);
  assert.deepEqual(Array.from(intc.props.get('phandle')!), [0, 0, 0, 1]);
  const dev = p.root.children[1];
  assert.equal(dev.name, 'dev@10000000');
  assert.deepEqual(
    Array.from(dev.props.get('reg')!),
    [0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0],
  );
  const ie = dev.props.get('interrupts-extended')!;
  const ieView = new DataView(ie.buffer, ie.byteOffset, ie.byteLength);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => ieView.getUint32(i * 4)),
    [1, 3, 1, 7],
  );
  assert.equal(new TextDecoder().decode(dev.props.get('compatible')), 'vendor,a\0vendor,b\0');
  assert.deepEqual(Array.from(dev.props.get('blob')!), [1, 2, 3]);
  assert.deepEqual(
    Array.from(dev.props.get('big')!),
    [0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10],
  );
});

test('property names are stored once in the strings block', () => {
  const p = parse(sample().finish());
  assert.equal(new Set(p.strings).size, p.strings.length);
  assert.ok(p.strings.includes('#address-cells'));
  assert.equal(p.strings.filter((s) => s === 'compatible').length, 1);
});

test('reservations, boot cpu and padding', () => {
  const blob = sample().finish({
    reservations: [
      { address: 0x80000000, size: 0x200000 },
      { address: 0x1_0000_0000n, size: 4096 },
    ],
    bootCpuId: 2,
    minSize: 8192,
  });
  assert.equal(blob.length, 8192);
  const p = parse(blob);
  assert.equal(p.header[7], 2);
  assert.deepEqual(p.reservations, [
    [0x80000000n, 0x200000n],
    [0x1_0000_0000n, 4096n],
  ]);
});

test('phandle() is idempotent; setting a property twice replaces it', () => {
  const fdt = new FdtWriter();
  const a = fdt.root.child('a');
  const b = fdt.root.child('b');
  assert.equal(fdt.phandle(a), 1);
  assert.equal(fdt.phandle(a), 1);
  assert.equal(fdt.phandle(b), 2);
  b.u32('x', 1).u32('x', 2);
  const p = parse(fdt.finish());
  assert.deepEqual(Array.from(p.root.children[1].props.get('x')!), [0, 0, 0, 2]);
  assert.equal(p.root.children[1].props.size, 2);
});

test('invalid names and values are refused', () => {
  const fdt = new FdtWriter();
  assert.throws(() => fdt.root.child('bad name'), FdtError);
  assert.throws(() => fdt.root.child(''), FdtError);
  fdt.root.child('x');
  assert.throws(() => fdt.root.child('x'), FdtError);
  assert.throws(() => fdt.root.u32('v', -1), FdtError);
  assert.throws(() => fdt.root.u32('v', 2 ** 32), FdtError);
  assert.throws(() => fdt.root.u64('v', 2 ** 60), FdtError, 'unsafe Number');
  assert.throws(() => fdt.root.u64('v', 1n << 64n), FdtError);
  assert.throws(() => fdt.root.string('s', 'a\0b'), FdtError);
  assert.throws(() => fdt.root.u32('bad name', 1), FdtError);
});

test('dtc decompiles the blob to the same tree that dtc compiles from source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fdt-'));
  try {
    const ours = join(dir, 'ours.dtb');
    writeFileSync(ours, sample().finish({ reservations: [{ address: 0x80000000, size: 0x1000 }] }));
    const source = `/dts-v1/;
/memreserve/ 0x80000000 0x1000;
/ {
  #address-cells = <2>; #size-cells = <2>; compatible = "berth,test";
  cpus { #address-cells = <1>; #size-cells = <0>;
    cpu@0 { interrupt-controller { #interrupt-cells = <1>; interrupt-controller; phandle = <1>; }; };
  };
  dev@10000000 {
    reg = <0 0x10000000 0 0x1000>; interrupts-extended = <1 3 1 7>;
    compatible = "vendor,a", "vendor,b"; blob = [01 02 03]; big = <0xfedcba98 0x76543210>;
  };
};
`;
    writeFileSync(join(dir, 'ref.dts'), source);
    const dtc = (...args: string[]): string =>
      execFileSync('dtc', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    dtc('-I', 'dts', '-O', 'dtb', '-o', join(dir, 'ref.dtb'), join(dir, 'ref.dts'));
    const a = dtc('-I', 'dtb', '-O', 'dts', ours);
    const b = dtc('-I', 'dtb', '-O', 'dts', join(dir, 'ref.dtb'));
    assert.equal(a, b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
