// The device tree of the virt board: the same nodes, names, properties and
// interrupt wiring as QEMU's `virt` machine (checked against QEMU's own tree
// by virtDeviceTree.test.ts), for the devices Berth has.
//
//   const blob = buildVirtDeviceTree({ harts: 2, memoryBytes: 512 << 20, bootargs: 'console=ttyS0' });
//   const fdtAddr = virtFdtAddress(VIRT.ram.base, 512 << 20, blob.length);
//
// Left out on purpose (QEMU has them, Berth has not): fw-cfg, platform-bus.
// The PCIe host bridge (/soc/pci@30000000) is there, as QEMU always has it. The cpus advertise only what the hart implements (RV64GC, Zicntr,
// Sstc, Svnapot, Svpbmt; Sv39/Sv48/Sv57), and the pmu node (the SBI PMU's
// event-to-counter map, read by OpenSBI) only the counters it has: cycles on
// mcycle, instructions on minstret (QEMU 7.2 also maps them, and three cache
// events, to its 16 programmable counters, which Berth's hart does not have).
// The flash node describes QEMU's two CFI banks (devices/cfiFlash.ts).
// Added on request (Berth has it, QEMU virt has not): the VM generation ID
// (`vmgenid: true`, /soc/rng@10200000), which the board always asks for.

import { FdtWriter, type FdtNode } from '../fdt/fdtWriter.js';
import { IRQ, pciIrq, PLIC_NDEV, TIMEBASE_HZ, VIRT } from './memoryMap.js';

export class DeviceTreeError extends Error {}

export type MmuType = 'sv39' | 'sv48' | 'sv57';

export interface VirtDeviceTreeConfig {
  /** Number of harts (ids 0..harts-1). */
  harts: number;
  /** RAM size in bytes (RAM starts at VIRT.ram.base). */
  memoryBytes: number;
  /** Kernel command line (/chosen/bootargs). */
  bootargs?: string;
  /** Physical start and end (exclusive) of the initrd in RAM. */
  initrd?: { start: number; end: number };
  /** /chosen/stdout-path; the UART by default. */
  stdoutPath?: string;
  /** How many virtio-mmio slots to describe (QEMU always describes all 8). */
  virtioSlots?: number;
  /** Largest paging mode offered to the kernel (mmu-type); sv48 by default, like QEMU. */
  mmuType?: MmuType;
  /** Bytes for /chosen/rng-seed (the kernel seeds its RNG with them); none by default. */
  rngSeed?: Uint8Array;
  /** Root model string. */
  model?: string;
  /**
   * Describes the VM generation ID device (Berth's own, `microsoft,vmgenid`; QEMU virt has
   * none); off by default, so that the tree matches QEMU's.
   */
  vmgenid?: boolean;
}

export interface VirtDeviceTreeBlobOptions {
  /** Pads the blob to at least this size (free room for OpenSBI's in-place edits); 64 KiB by default. */
  minSize?: number;
}

/**
 * ISA extensions the hart implements, in canonical order (single letters; Z*
 * by the category letter after the Z, in single-letter order, so Zi* before
 * Zb*; then S*), named as QEMU 7.2 and Linux name them.
 */
export const HART_ISA_EXTENSIONS = [
  'i',
  'm',
  'a',
  'f',
  'd',
  'c',
  'zicntr',
  'zicsr',
  'zifencei',
  'zihintpause',
  'zba',
  'zbb',
  'zbc',
  'zbs',
  'sstc',
  'svnapot',
  'svpbmt',
] as const;

/** The riscv,isa string: rv64imafdc_zicntr_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc_svnapot_svpbmt. */
export function hartIsaString(): string {
  const single = HART_ISA_EXTENSIONS.filter((e) => e.length === 1).join('');
  const multi = HART_ISA_EXTENSIONS.filter((e) => e.length > 1);
  return ['rv64' + single, ...multi].join('_');
}

/**
 * The pmu node's riscv,event-to-mhpmcounters rows (first event, last event,
 * counter mask): SBI PMU event 1 (cycles) on counter 0 (mcycle), event 2
 * (instructions) on counter 2 (minstret).
 */
export const PMU_EVENT_COUNTERS = [
  [1, 1, 0b001],
  [2, 2, 0b100],
] as const;

export const VIRT_MODEL = 'riscv-virtio,berth';
export const UART_CLOCK_HZ = 0x384000;
export const DEFAULT_STDOUT_PATH = `/soc/serial@${VIRT.uart0.base.toString(16)}`;

const CAUSE_MSI = 3;
const CAUSE_MTI = 7;
const CAUSE_SEI = 9;
const CAUSE_MEI = 11;

function hex(n: number): string {
  return n.toString(16);
}

function reg(node: FdtNode, base: number, size: number): void {
  node.u64('reg', base, size);
}

/** Builds the virt board's device tree; add nodes to it before finish() if needed. */
export function virtDeviceTree(cfg: VirtDeviceTreeConfig): FdtWriter {
  if (!Number.isInteger(cfg.harts) || cfg.harts < 1 || cfg.harts > 512) {
    throw new DeviceTreeError(`the virt board has 1 to 512 harts, got ${cfg.harts}`);
  }
  if (!Number.isSafeInteger(cfg.memoryBytes) || cfg.memoryBytes <= 0) {
    throw new DeviceTreeError(
      `RAM size must be a positive number of bytes, got ${cfg.memoryBytes}`,
    );
  }
  const virtioSlots = cfg.virtioSlots ?? VIRT.virtio.count;
  if (!Number.isInteger(virtioSlots) || virtioSlots < 0 || virtioSlots > VIRT.virtio.count) {
    throw new DeviceTreeError(`virtioSlots must be 0 to ${VIRT.virtio.count}, got ${virtioSlots}`);
  }
  const mmuType = cfg.mmuType ?? 'sv48';
  if (mmuType !== 'sv39' && mmuType !== 'sv48' && mmuType !== 'sv57') {
    throw new DeviceTreeError(`mmuType must be sv39, sv48 or sv57, got ${String(mmuType)}`);
  }
  if (cfg.initrd) {
    const { start, end } = cfg.initrd;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new DeviceTreeError(`invalid initrd range 0x${hex(start)}..0x${hex(end)}`);
    }
  }

  const fdt = new FdtWriter();
  const root = fdt.root;
  root.u32('#address-cells', 2);
  root.u32('#size-cells', 2);
  root.string('compatible', 'riscv-virtio');
  root.string('model', cfg.model ?? VIRT_MODEL);

  // Nodes that others point at get their phandles first: cpus, then their
  // interrupt controllers, then the PLIC and the test device. Root nodes in
  // QEMU's order (QEMU's fw-cfg would sit between pmu and flash).
  const pmu = root.child('pmu');
  const flash = root.child(`flash@${hex(VIRT.flash.base)}`);
  const chosen = root.child('chosen');
  const poweroff = root.child('poweroff');
  const reboot = root.child('reboot');
  const memory = root.child(`memory@${hex(VIRT.ram.base)}`);
  const cpus = root.child('cpus');
  const soc = root.child('soc');

  // /cpus
  cpus.u32('#address-cells', 1);
  cpus.u32('#size-cells', 0);
  cpus.u32('timebase-frequency', TIMEBASE_HZ);
  const cpuPh: number[] = [];
  const intcPh: number[] = [];
  for (let h = 0; h < cfg.harts; h++) {
    const cpu = cpus.child(`cpu@${hex(h)}`);
    cpuPh.push(fdt.phandle(cpu));
    cpu.string('device_type', 'cpu');
    cpu.u32('reg', h);
    cpu.string('status', 'okay');
    cpu.string('compatible', 'riscv');
    cpu.string('riscv,isa', hartIsaString());
    cpu.string('riscv,isa-base', 'rv64i');
    cpu.strings('riscv,isa-extensions', HART_ISA_EXTENSIONS);
    cpu.string('mmu-type', `riscv,${mmuType}`);
    const intc = cpu.child('interrupt-controller');
    intc.u32('#interrupt-cells', 1);
    intc.empty('interrupt-controller');
    intc.string('compatible', 'riscv,cpu-intc');
    intcPh.push(fdt.phandle(intc));
  }
  const cluster = cpus.child('cpu-map').child('cluster0');
  for (let h = 0; h < cfg.harts; h++) cluster.child(`core${h}`).u32('cpu', cpuPh[h]);

  // /soc
  soc.u32('#address-cells', 2);
  soc.u32('#size-cells', 2);
  soc.string('compatible', 'simple-bus');
  soc.empty('ranges');
  const rtc = soc.child(`rtc@${hex(VIRT.rtc.base)}`);
  const serial = soc.child(`serial@${hex(VIRT.uart0.base)}`);
  const test = soc.child(`test@${hex(VIRT.test.base)}`);
  const pci = soc.child(`pci@${hex(VIRT.pcie.ecam.base)}`);
  const virtio: FdtNode[] = [];
  // Highest slot first, as QEMU orders them: Linux probes in tree order.
  for (let n = virtioSlots - 1; n >= 0; n--) {
    virtio.push(soc.child(`virtio_mmio@${hex(VIRT.virtio.base + n * VIRT.virtio.stride)}`));
  }
  const plic = soc.child(`plic@${hex(VIRT.plic.base)}`);
  const clint = soc.child(`clint@${hex(VIRT.clint.base)}`);
  const vmgenid = cfg.vmgenid ? soc.child(`rng@${hex(VIRT.vmgenid.base)}`) : null;

  const plicPh = fdt.phandle(plic);
  plic.u32('riscv,ndev', PLIC_NDEV);
  reg(plic, VIRT.plic.base, VIRT.plic.size);
  plic.cells(
    'interrupts-extended',
    intcPh.flatMap((p) => [p, CAUSE_MEI, p, CAUSE_SEI]),
  );
  plic.empty('interrupt-controller');
  plic.strings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  plic.u32('#address-cells', 0);
  plic.u32('#interrupt-cells', 1);

  clint.cells(
    'interrupts-extended',
    intcPh.flatMap((p) => [p, CAUSE_MSI, p, CAUSE_MTI]),
  );
  reg(clint, VIRT.clint.base, VIRT.clint.size);
  clint.strings('compatible', ['sifive,clint0', 'riscv,clint0']);

  rtc.u32('interrupts', IRQ.rtc);
  rtc.u32('interrupt-parent', plicPh);
  reg(rtc, VIRT.rtc.base, VIRT.rtc.size);
  rtc.string('compatible', 'google,goldfish-rtc');

  serial.u32('interrupts', IRQ.uart0);
  serial.u32('interrupt-parent', plicPh);
  serial.u32('clock-frequency', UART_CLOCK_HZ);
  reg(serial, VIRT.uart0.base, VIRT.uart0.size);
  serial.string('compatible', 'ns16550a');

  const testPh = fdt.phandle(test);
  reg(test, VIRT.test.base, VIRT.test.size);
  test.strings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);

  pciHostNode(pci, plicPh);

  for (const node of virtio) {
    const n = (parseInt(node.name.split('@')[1], 16) - VIRT.virtio.base) / VIRT.virtio.stride;
    node.u32('interrupts', IRQ.virtio0 + n);
    node.u32('interrupt-parent', plicPh);
    reg(node, VIRT.virtio.base + n * VIRT.virtio.stride, VIRT.virtio.stride);
    node.string('compatible', 'virtio,mmio');
  }

  if (vmgenid) {
    // Linux's vmgenid driver maps reg (the 16-byte ID) and takes one interrupt.
    vmgenid.u32('interrupts', IRQ.vmgenid);
    vmgenid.u32('interrupt-parent', plicPh);
    reg(vmgenid, VIRT.vmgenid.base, VIRT.vmgenid.regSize);
    vmgenid.string('compatible', 'microsoft,vmgenid');
  }

  // Root-level nodes.
  pmu.cells(
    'riscv,event-to-mhpmcounters',
    PMU_EVENT_COUNTERS.flatMap((row) => [...row]),
  );
  pmu.string('compatible', 'riscv,pmu');

  flash.u32('bank-width', VIRT.flash.bankWidth);
  const banks: number[] = [];
  for (let b = 0; b < VIRT.flash.banks; b++) {
    banks.push(VIRT.flash.base + b * VIRT.flash.bankSize, VIRT.flash.bankSize);
  }
  flash.u64('reg', ...banks);
  flash.string('compatible', 'cfi-flash');

  if (cfg.bootargs !== undefined) chosen.string('bootargs', cfg.bootargs);
  chosen.string('stdout-path', cfg.stdoutPath ?? DEFAULT_STDOUT_PATH);
  if (cfg.initrd) {
    chosen.u64('linux,initrd-start', cfg.initrd.start);
    chosen.u64('linux,initrd-end', cfg.initrd.end);
  }
  if (cfg.rngSeed) chosen.bytes('rng-seed', cfg.rngSeed);

  for (const [node, value] of [
    [poweroff, 0x5555],
    [reboot, 0x7777],
  ] as const) {
    node.u32('value', value);
    node.u32('offset', 0);
    node.u32('regmap', testPh);
    node.string('compatible', node === poweroff ? 'syscon-poweroff' : 'syscon-reboot');
  }

  memory.string('device_type', 'memory');
  reg(memory, VIRT.ram.base, cfg.memoryBytes);

  return fdt;
}

/** PCI address space codes of `ranges` (phys.hi): I/O, 32-bit memory, 64-bit memory. */
const PCI_SPACE = { io: 0x1000000, mem32: 0x2000000, mem64: 0x3000000 } as const;

function hi(n: number): number {
  return Math.floor(n / 2 ** 32);
}

function lo(n: number): number {
  return n % 2 ** 32;
}

/**
 * The PCIe host bridge as QEMU describes it: ECAM config space, the I/O and memory windows
 * (ranges: PCI address, CPU address, size), buses 0..255, and INTx of each device's pins
 * swizzled onto PLIC sources 32..35 (interrupt-map, keyed by device number and pin). No
 * msi-parent: the board has no MSI controller (QEMU has one only with AIA).
 */
function pciHostNode(pci: FdtNode, plicPh: number): void {
  const { ecam, io, mmio, mmioHigh } = VIRT.pcie;
  const map: number[] = [];
  for (let device = 0; device < 4; device++) {
    for (let pin = 1; pin <= 4; pin++) {
      map.push(device << 11, 0, 0, pin, plicPh, pciIrq(device, pin));
    }
  }
  pci.cells('interrupt-map-mask', [0x1800, 0, 0, 7]);
  pci.cells('interrupt-map', map);
  const range = (space: number, pciAddr: number, cpu: number, size: number): number[] => [
    space,
    hi(pciAddr),
    lo(pciAddr),
    hi(cpu),
    lo(cpu),
    hi(size),
    lo(size),
  ];
  pci.cells('ranges', [
    ...range(PCI_SPACE.io, 0, io.base, io.size),
    ...range(PCI_SPACE.mem32, mmio.base, mmio.base, mmio.size),
    ...range(PCI_SPACE.mem64, mmioHigh.base, mmioHigh.base, mmioHigh.size),
  ]);
  reg(pci, ecam.base, ecam.size);
  pci.empty('dma-coherent');
  pci.cells('bus-range', [0, VIRT.pcie.buses - 1]);
  pci.u32('linux,pci-domain', 0);
  pci.string('device_type', 'pci');
  pci.string('compatible', 'pci-host-ecam-generic');
  pci.u32('#size-cells', 2);
  pci.u32('#interrupt-cells', 1);
  pci.u32('#address-cells', 3);
}

/** The virt board's device tree as a DTB. */
export function buildVirtDeviceTree(
  cfg: VirtDeviceTreeConfig,
  options: VirtDeviceTreeBlobOptions = {},
): Uint8Array {
  return virtDeviceTree(cfg).finish({ minSize: options.minSize ?? 0x10000 });
}

/**
 * Where QEMU virt puts the device tree in RAM: the highest 2 MiB-aligned
 * address below min(RAM end, 3 GiB) that leaves room for the blob, so that
 * kernel and initrd do not overwrite it and 32-bit code can reach it.
 */
export function virtFdtAddress(ramBase: number, ramSize: number, fdtSize: number): number {
  const MiB = 1 << 20;
  const ramEnd = ramBase + ramSize;
  const top = ramBase < 3072 * MiB ? Math.min(ramEnd, 3072 * MiB) : ramEnd;
  const addr = Math.floor((top - fdtSize) / (2 * MiB)) * 2 * MiB;
  if (addr < ramBase) {
    throw new DeviceTreeError(
      `RAM of ${ramSize} bytes is too small to hold a ${fdtSize}-byte device tree`,
    );
  }
  return addr;
}
