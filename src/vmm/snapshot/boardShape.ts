// The board fingerprint of a snapshot: SHA-256 of the board's shape (memory, harts, ISA, the
// device in each virtio slot and on each PCI device) as canonical JSON; whether a snapshot's board may be restored
// onto another (the same shape but for the network cards' MACs: a clone takes its own MAC,
// which the guest picks up on the restore key, generation.ts; and an ISA that names every
// extension the snapshot's does, and maybe more: its guest was told of those only, from the
// device tree in its memory); and, when not, what differs.
// The fingerprint covers the whole shape, MACs included, as format 1 wrote it: it proves the
// board section intact; the comparison is of the shapes themselves, each disk's number
// derived for shapes written before it was recorded (savedPlacement.ts).

import { createHash } from 'node:crypto';
import type { BoardShape, SlotShape } from '../../machine/board/virtState.js';
import { withDiskIndices } from './savedPlacement.js';

/** JSON with object keys sorted at every level. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function boardFingerprint(shape: BoardShape): Uint8Array {
  return new Uint8Array(createHash('sha256').update(canonicalJson(shape)).digest());
}

/** The shape without what a restore may change (the MACs of network cards). */
export function restorableShape(shape: BoardShape): unknown {
  // A snapshot's shape is read from a file: anything may be in it.
  const noMac = (slots: unknown): unknown =>
    Array.isArray(slots)
      ? slots.map((s: unknown) =>
          s !== null && typeof s === 'object' ? { ...s, mac: undefined } : s,
        )
      : slots;
  return { ...shape, virtio: noMac(shape.virtio), pci: noMac(shape.pci) };
}

/** The extensions a riscv,isa string names (single letters after rv64, then the _-separated rest), or null. */
function isaExtensions(isa: unknown): { base: string; exts: Set<string> } | null {
  if (typeof isa !== 'string' || !/^rv(32|64)[a-z]*(_[a-z0-9]+)*$/.test(isa)) return null;
  const [first, ...multi] = isa.split('_');
  return { base: first.slice(0, 4), exts: new Set([...first.slice(4), ...multi]) };
}

/**
 * True when a hart of ISA `here` has the base and every extension of ISA `saved` (the one a
 * snapshot's guest was told of), e.g. a snapshot from before the hart gained Zb*.
 */
export function isaCovers(saved: unknown, here: string): boolean {
  const s = isaExtensions(saved);
  const h = isaExtensions(here);
  return s !== null && h !== null && s.base === h.base && [...s.exts].every((e) => h.exts.has(e));
}

/** True when a snapshot of a board of shape `saved` restores onto a board of shape `here`. */
export function sameBoard(saved: BoardShape, here: BoardShape): boolean {
  const rest = (shape: BoardShape): string =>
    canonicalJson({ ...(restorableShape(withDiskIndices(shape)) as object), isa: undefined });
  return isaCovers(saved.isa, here.isa) && rest(saved) === rest(here);
}

/** True when the boards are configured alike, MACs included (a live migration's boards). */
export function sameShape(source: BoardShape, here: BoardShape): boolean {
  return canonicalJson(withDiskIndices(source)) === canonicalJson(withDiskIndices(here));
}

function slot(s: SlotShape | null | undefined): string {
  if (!s) return 'nothing';
  const extra: string[] = [];
  if (s.disk !== undefined) extra.push(`disk ${s.disk}`);
  if (s.bytes !== undefined) extra.push(`${s.bytes} bytes`);
  if (s.readOnly) extra.push('read-only');
  return extra.length > 0 ? `${s.device} (${extra.join(', ')})` : s.device;
}

/** What differs between the snapshot's board and this one, one phrase each. */
export function shapeDifferences(saved: BoardShape, here: BoardShape): string[] {
  const out: string[] = [];
  const differ = (what: string, a: string, b: string): void => {
    if (a !== b) out.push(`${what}: ${a} in the snapshot, ${b} here`);
  };
  differ('machine', String(saved.machine), here.machine);
  differ('ISA', String(saved.isa), here.isa);
  differ('memory', `${saved.memoryBytes} bytes`, `${here.memoryBytes} bytes`);
  differ('harts (--cpus)', String(saved.harts), String(here.harts));
  const a = withDiskIndices(saved);
  const b = withDiskIndices(here);
  const slots = Math.max(a.virtio?.length ?? 0, b.virtio.length);
  for (let i = 0; i < slots; i++) {
    differ(`virtio slot ${i}`, slot(a.virtio?.[i]), slot(b.virtio[i]));
  }
  const pci = Math.max(Array.isArray(a.pci) ? a.pci.length : 0, b.pci?.length ?? 0);
  for (let i = 0; i < pci; i++) {
    differ(`PCI device ${i + 1}`, slot(a.pci?.[i]), slot(b.pci?.[i]));
  }
  return out;
}
