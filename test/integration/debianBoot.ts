// Booting one image made by `berth image build --distro debian` on QEMU and on Berth, each on a
// qcow2 overlay of its own (so each boot is a first boot, and the image stays as built): QEMU
// as its users start it (-bios OpenSBI -kernel U-Boot, the disk on virtio), Berth through
// U-Boot from the disk (`--boot uboot`). Shared by the full Debian test and bench/boot.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ImageBuildResult } from '../../src/images/imageBuild.js';
import { ConsoleSession } from './session.js';

export interface DebianBootOptions {
  /** Where the overlays go (DIR/qemu.qcow2, DIR/berth.qcow2). */
  dir: string;
  memory: string;
  /** A host port forwarded to the guest's SSH port, on 127.0.0.1. */
  sshPort?: number;
}

/** A new qcow2 overlay at DIR/NAME.qcow2 over the image's raw disk. */
export function overlayOf(image: ImageBuildResult, dir: string, name: string): string {
  const path = join(dir, `${name}.qcow2`);
  const args = ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image.rootfsPath, path];
  execFileSync('qemu-img', args);
  return path;
}

export function bootDebianOnQemu(image: ImageBuildResult, o: DebianBootOptions): ConsoleSession {
  const m = image.manifest;
  const forward = o.sshPort === undefined ? '' : `,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22`;
  return new ConsoleSession('qemu-system-riscv64', [
    ...['-M', 'virt', '-m', o.memory, '-nographic'],
    ...['-bios', m.firmwarePath, '-kernel', m.kernelPath],
    ...['-drive', `file=${overlayOf(image, o.dir, 'qemu')},format=qcow2,if=virtio`],
    ...['-netdev', `user,id=n0${forward}`, '-device', 'virtio-net-device,netdev=n0'],
  ]);
}

export function bootDebianOnBerth(image: ImageBuildResult, o: DebianBootOptions): ConsoleSession {
  const forward = o.sshPort === undefined ? [] : ['-p', `${o.sshPort}:22`];
  return ConsoleSession.berth([
    ...['--boot', 'uboot', '--disk', overlayOf(image, o.dir, 'berth')],
    ...['--memory', o.memory, '--net', 'user', ...forward],
  ]);
}
