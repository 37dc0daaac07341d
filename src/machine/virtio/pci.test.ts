// virtio-pci on the PCIe host, driven as a guest driver drives it (virtioPciTestDriver.ts):
// ECAM addressing and identity, the virtio capabilities, BAR sizing and decoding, feature
// negotiation and a queue round trip through the common configuration and the notify area,
// INTx through the ISR (cleared by reading, masked by Command.InterruptDisable), and saved
// state of the host's config spaces and the transport.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { COMMAND_INTX_DISABLE, PCI, STATUS_INTERRUPT } from '../pci/configSpace.js';
import { PciHost } from '../pci/pciHost.js';
import { restoreState, StateError } from '../state/persistent.js';
import { CAP, COMMON, NOTIFY_OFF_MULTIPLIER, VirtioPci } from './pci.js';
import {
  INT_USED_BUFFER,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_FEATURES_OK,
  VIRTIO_F_VERSION_1,
} from './device.js';
import { EchoDevice } from './echoDevice.js';
import { PciTestDriver } from './virtioPciTestDriver.js';
import { VirtioRng } from './rng.js';
import { assertRoundTrip, viaJson } from '../../../test/support/persistence.js';

const BASE = 0x80000000;

function setup(device = 2): {
  ram: Ram;
  dev: EchoDevice;
  irq: FakeLine;
  host: PciHost;
  t: VirtioPci;
  d: PciTestDriver;
} {
  const ram = new Ram(BASE, 1 << 20);
  const dev = new EchoDevice(2);
  const irq = new FakeLine();
  const t = new VirtioPci(ram, dev, irq, () => {}, 'pci 00:02.0');
  const host = new PciHost();
  host.attach(device, t);
  return { ram, dev, irq, host, t, d: new PciTestDriver(ram, host, device) };
}

test('ECAM: the host bridge at 00:00.0, the virtio function at its device, all-ones elsewhere', () => {
  const { host, d } = setup();
  const ecam = host.ecam;
  assert.equal(ecam.read(0, 4), 0x00081b36, 'gpex-root 1b36:0008');
  assert.equal(ecam.read(PCI.revision, 4) >>> 8, 0x060000, 'a host bridge');
  assert.equal(d.cfgRead(PCI.vendorId, 4), 0x10be1af4, '1af4:(1040 + 0x7e)');
  assert.equal(d.cfgRead(PCI.revision, 1), 1, 'modern: revision 1');
  assert.equal(d.cfgRead(PCI.interruptPin, 1), 1, 'INTA#');
  assert.equal(ecam.read(1 << 15, 4), 0xffffffff, 'no device 1');
  assert.equal(ecam.read((2 << 15) | (1 << 12), 2), 0xffff, 'no function 1');
  assert.equal(ecam.read((1 << 20) | (2 << 15), 1), 0xff, 'no bus 1');
  assert.equal(ecam.read(0xffffffc, 4), 0xffffffff, 'bus 255 device 31 function 7');
  assert.throws(() => host.attach(2, new VirtioPci(d.ram, new EchoDevice())), /taken/);
  assert.throws(() => host.attach(32, new VirtioPci(d.ram, new EchoDevice())), /devices 1 to 31/);
});

test('the capability list holds common, ISR, device, notify and PCI-config structures, in a 16 KiB 64-bit BAR', () => {
  const { d } = setup();
  const caps = d.findCaps();
  assert.deepEqual(
    caps.map((c) => [c.type, c.bar, c.offset, c.length]),
    [
      [CAP.common, 4, 0x0000, 0x1000],
      [CAP.isr, 4, 0x1000, 0x1000],
      [CAP.device, 4, 0x2000, 0x1000],
      [CAP.notify, 4, 0x3000, 0x1000],
      [CAP.pciCfg, 0, 0, 0],
    ],
  );
  assert.deepEqual(
    caps.map((c) => c.at),
    [0x40, 0x50, 0x60, 0x70, 0x84],
    "QEMU's offsets (its MSI-X capability aside)",
  );
  assert.equal(caps[3].multiplier, NOTIFY_OFF_MULTIPLIER);
  // Nothing decodes before the driver places the BAR and turns memory on.
  assert.equal(d.window.read(0x10000, 4), 0xffffffff);
  assert.equal(d.mapBar(0x40010000), 0x4000);
  assert.equal(d.cfgRead(PCI.bar0 + 16, 4), 0x4001000c);
  assert.equal(d.common(COMMON.numQueues, 2), 2);
  assert.equal(d.readCap(CAP.device, 0, 4), 0x04030201, "the device's configuration");
  d.writeCap(CAP.device, 0, 1, 0x99);
  assert.equal(d.readCap(CAP.device, 0, 1), 0x99);
});

test('negotiation, a queue round trip and INTx through the ISR; InterruptDisable masks the pin', () => {
  const { d, dev, irq } = setup();
  d.init([16, 16]);
  assert.equal(d.common(COMMON.queueMsixVector, 2), 0xffff, 'no MSI-X');
  d.setCommon(COMMON.queueSelect, 2, 1);
  assert.equal(d.common(COMMON.queueNotifyOff, 2), 1);
  assert.equal(d.common(COMMON.queueEnable, 2), 1);
  assert.equal(d.common(COMMON.queueSize, 2), 16);
  const [out] = d.submit(1, [{ data: Uint8Array.of(5, 6, 7) }, { writeLen: 3 }]);
  assert.deepEqual(d.takeUsed(1), [{ id: 0, len: 3 }]);
  assert.deepEqual([...d.bytes(out, 3)], [5, 6, 7]);
  assert.equal(dev.chains, 1);
  assert.equal(irq.level, true);
  assert.ok(d.cfgRead(PCI.status, 2) & STATUS_INTERRUPT);
  assert.equal(d.isr(), INT_USED_BUFFER);
  assert.equal(irq.level, false, 'reading the ISR clears it');
  assert.equal(d.isr(), 0);
  // Masked: the status bit shows the interrupt, the pin stays low until unmasked.
  d.cfgWrite(PCI.command, 2, d.cfgRead(PCI.command, 2) | COMMAND_INTX_DISABLE);
  d.submit(0, [{ data: Uint8Array.of(1) }, { writeLen: 1 }]);
  assert.equal(irq.level, false);
  assert.ok(d.cfgRead(PCI.status, 2) & STATUS_INTERRUPT);
  d.cfgWrite(PCI.command, 2, d.cfgRead(PCI.command, 2) & ~COMMAND_INTX_DISABLE);
  assert.equal(irq.level, true);
});

test('FEATURES_OK sticks without VERSION_1, as on QEMU; status 0 resets device and queues', () => {
  const { d, dev } = setup();
  d.mapBar();
  d.setCommon(COMMON.deviceStatus, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  d.setCommon(COMMON.driverFeatureSelect, 4, 1);
  d.setCommon(COMMON.driverFeature, 4, 0);
  d.setCommon(COMMON.deviceStatus, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  assert.equal(d.status() & STATUS_FEATURES_OK, STATUS_FEATURES_OK);
  d.setCommon(COMMON.deviceFeatureSelect, 4, 1);
  assert.equal(d.common(COMMON.deviceFeature, 4) & 1, Number(1n << (VIRTIO_F_VERSION_1 - 32n)));
  d.init([8]);
  assert.equal(d.common(COMMON.queueEnable, 2), 1);
  d.setCommon(COMMON.deviceStatus, 1, 0);
  assert.equal(d.status(), 0);
  assert.equal(d.common(COMMON.queueEnable, 2), 0);
  assert.equal(d.common(COMMON.queueSize, 2), dev.queueMax, 'back to the largest size');
  assert.ok(dev.resets >= 2);
});

test('saved state: config spaces and transport restore into a fresh host; another device is refused', () => {
  const a = setup();
  a.d.init([16, 16]);
  a.d.submit(0, [{ data: Uint8Array.of(9) }, { writeLen: 1 }]);
  const b = setup();
  assertRoundTrip(a.host, b.host);
  assertRoundTrip(a.t, b.t);
  assert.equal(b.irq.level, true, 'the pending interrupt is driven again');
  // The restored driver goes on where the first left off (same RAM contents).
  b.ram.u8.set(a.ram.u8);
  const d2 = b.d;
  d2.barBase = a.d.barBase;
  d2.caps = a.d.caps;
  d2.queues.push(...a.d.queues);
  assert.equal(d2.isr(), INT_USED_BUFFER);
  d2.submit(1, [{ data: Uint8Array.of(4, 2) }, { writeLen: 2 }]);
  assert.deepEqual(d2.takeUsed(1), [{ id: 0, len: 2 }]);
  // A host with an rng where the echo device was: its identity differs.
  const other = new PciHost();
  other.attach(2, new VirtioPci(a.ram, new VirtioRng({ fill: () => {} })));
  const saved = viaJson(a.host.saveState());
  assert.throws(
    () => restoreState(other, saved),
    (e: unknown) =>
      e instanceof StateError && /config byte 0x2 of PCI device 2 is read-only/.test(e.message),
  );
  const moved = new PciHost();
  moved.attach(3, new VirtioPci(a.ram, new EchoDevice(2)));
  assert.throws(() => restoreState(moved, saved), /this bus has no PCI device 2/);
});

test('the PCI-config capability reaches the BAR through config space alone', () => {
  const { d } = setup();
  d.mapBar();
  const at = d.findCaps().find((c) => c.type === CAP.pciCfg)!.at;
  assert.equal(d.cfgRead(at + 2, 1), 20, 'cap_len covers pci_cfg_data');
  const via = (offset: number, length: number): void => {
    d.cfgWrite(at + 4, 1, 4);
    d.cfgWrite(at + 8, 4, offset);
    d.cfgWrite(at + 12, 4, length);
  };
  via(COMMON.numQueues, 2);
  assert.equal(d.cfgRead(at + 16, 4), 2, 'num_queues');
  via(0x2000 + 4, 4);
  assert.equal(d.cfgRead(at + 16, 4), 0x08070605, "the device's configuration");
  via(0x2000, 1);
  d.cfgWrite(at + 16, 4, 0x77);
  assert.equal(d.readCap(CAP.device, 0, 1), 0x77, 'a write through the window');
  via(0x2000, 3);
  assert.equal(d.cfgRead(at + 16, 4), 0, 'a length other than 1, 2 or 4 reads nothing');
  d.cfgWrite(at + 4, 1, 0);
  d.cfgWrite(at + 12, 4, 1);
  assert.equal(d.cfgRead(at + 16, 4), 0, 'another BAR reads nothing');
});
