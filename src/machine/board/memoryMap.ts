// The virt board's memory map and interrupt numbers, the same as QEMU's
// `virt` machine. Everything that needs an address (board assembly, device
// tree, boot ROM) takes it from here.

export const VIRT = {
  bootRom: { base: 0x1000, size: 0x1000 },
  test: { base: 0x100000, size: 0x1000 },
  rtc: { base: 0x101000, size: 0x1000 },
  clint: { base: 0x2000000, size: 0x10000 },
  plic: { base: 0xc000000, size: 0x600000 },
  uart0: { base: 0x10000000, size: 0x100 },
  virtio: { base: 0x10001000, stride: 0x1000, count: 8 },
  // Two CFI flash banks (QEMU's pflash0 and pflash1), 32 MiB each in 256 KiB sectors; Berth
  // attaches no image to them: they read as zeros, as QEMU's do without -drive if=pflash.
  flash: { base: 0x20000000, bankSize: 0x2000000, banks: 2, bankWidth: 4, sectorSize: 0x40000 },
  // Berth's own (QEMU virt has nothing here: fw-cfg ends at 0x10100018, flash starts at
  // 0x20000000). The guest sees 16 bytes (the device tree's reg); the bus maps a page.
  vmgenid: { base: 0x10200000, size: 0x1000, regSize: 0x10 },
  // The PCIe host bridge (pci-host-ecam-generic): config space of buses 0..255 (ECAM), the
  // I/O window (PCI I/O addresses from 0), the memory window below 4 GiB and the one above
  // (QEMU's high window for RAM up to 16 GiB), both at PCI addresses equal to their own.
  pcie: {
    ecam: { base: 0x30000000, size: 0x10000000 },
    io: { base: 0x3000000, size: 0x10000 },
    mmio: { base: 0x40000000, size: 0x40000000 },
    mmioHigh: { base: 0x400000000, size: 0x400000000 },
    buses: 256,
  },
  ram: { base: 0x80000000 },
} as const;

/** PLIC interrupt sources. */
export const IRQ = {
  virtio0: 1, // virtio slot n uses source 1 + n
  uart0: 10,
  rtc: 11,
  // Berth's own: free on QEMU virt (PCIe uses 32..35, the IOMMU 36.., the platform bus 64..95).
  vmgenid: 12,
  // PCIe INTA#..INTD# of device 0 (swizzled by device number): 32..35.
  pcie: 32,
} as const;

/** The PLIC source of PCI device `device`'s interrupt pin `pin` (1..4 = INTA#..INTD#). */
export function pciIrq(device: number, pin: number): number {
  return IRQ.pcie + ((device + pin - 1) % 4);
}

/** mtime frequency (the device tree's timebase-frequency). */
export const TIMEBASE_HZ = 10_000_000;

/** Number of PLIC interrupt sources QEMU's virt board declares (riscv,ndev). */
export const PLIC_NDEV = 95;
