// Turns a guest spec into the complete VmmConfig its VMM runs from (`berth vmm --config`):
// boot files resolved (a built image's manifest, the files named, or Debian's default assets
// from the cache), the image's root disk first, the network card with its MAC (and, for a
// TAP card, the device the daemon hands over), the bus of each disk and of the card, the
// control socket and the console log under the state folder.

import { parseVmmConfig, type VmmConfig } from '../vmm/config.js';
import { readImageManifest } from '../images/imageManifest.js';
import type { GuestAssets } from '../images/assets.js';
import { badRequest, HostError } from './errors.js';
import { checkTapHost, vmmNet } from './guestNetwork.js';
import { checkSpecFiles, type GuestSpec } from './guestSpec.js';

type Bus = NonNullable<GuestSpec['disks'][number]['bus']>;

/** Supplies Debian's default kernel, firmware and initramfs (ensureDefaultAssets by default). */
export type DefaultAssets = () => Promise<
  Pick<GuestAssets, 'kernelPath' | 'firmwarePath' | 'initrdPath' | 'cmdline'>
>;

export const loadDefaultAssets: DefaultAssets = async () => {
  const { ensureDefaultAssets } = await import('../images/assets.js');
  return ensureDefaultAssets({ progress: false, log: () => {} });
};

/** Where the VMM's files go: its control socket and the guest's console log; what it reads. */
export interface VmmPaths {
  controlSocket: string;
  consoleLog: string;
  /** The images its disks write to, when snapshots gave them layers (diskLayers.ts). */
  activeDisks?: string[] | null;
  /** A snapshot's machine file to start from. */
  restore?: string;
  /** Where to wait for a migration's stream instead of booting (HOST:PORT, TLS, token). */
  incoming?: IncomingOptions;
}

export interface IncomingOptions {
  listen: string;
  tls?: { cert: string; key: string };
  token?: string;
  /** The writable disks are this host's copies, written by the stream (copyStorage.ts). */
  mirror?: boolean;
}

/**
 * The VMM's disks, in its order: a built image's root disk first (in a virtio slot), then the
 * spec's, each with its bus when the spec gives one.
 */
export function vmmDisks(spec: GuestSpec): { path: string; readOnly: boolean; bus?: Bus }[] {
  const disks = spec.disks.map((d) => ({
    path: d.path,
    readOnly: d.readOnly,
    ...(d.bus === undefined ? {} : { bus: d.bus }),
  }));
  if ('image' in spec.boot) {
    disks.unshift({ path: readImageManifest(spec.boot.image).rootfsPath, readOnly: false });
  }
  return disks;
}

/** `tapDevice`: the name of the TAP device the daemon makes for a tap card. */
export async function vmmConfigFor(
  spec: GuestSpec,
  paths: VmmPaths,
  defaultAssets: DefaultAssets,
  tapDevice?: string,
): Promise<VmmConfig> {
  checkSpecFiles(spec); // the files (and the bridge) may have gone since the guest was created
  if (spec.network.kind === 'tap') checkTapHost(spec.network.bridge);
  const disks = vmmDisks(spec);
  if (paths.activeDisks) {
    if (paths.activeDisks.length !== disks.length) {
      throw new HostError(
        500,
        `the guest has ${disks.length} disks but ${paths.activeDisks.length} disk layers are recorded`,
      );
    }
    paths.activeDisks.forEach((p, i) => (disks[i].path = p));
  }
  let boot: { firmware: string; kernel?: string; initrd?: string; append?: string };
  if ('image' in spec.boot) {
    const m = readImageManifest(spec.boot.image);
    // An image that boots through U-Boot has its command line in its /boot/extlinux/extlinux.conf.
    boot = {
      firmware: m.firmwarePath,
      kernel: m.kernelPath,
      initrd: m.initrdPath,
      append: m.boot === 'uboot' ? undefined : m.cmdline,
    };
  } else if ('firmware' in spec.boot) {
    boot = { ...spec.boot };
  } else {
    const a = await defaultAssets();
    boot = {
      firmware: a.firmwarePath,
      kernel: a.kernelPath,
      initrd: a.initrdPath,
      append: spec.boot.append ?? a.cmdline,
    };
  }
  // The default and image command lines name ttyS0; a virtio console is hvc0.
  if (spec.console === 'virtio' && !('firmware' in spec.boot) && boot.append !== undefined) {
    const given = !('image' in spec.boot) && spec.boot.append !== undefined;
    if (!given) boot.append = boot.append.replace(/\bconsole=ttyS0\b/, 'console=hvc0');
  }
  try {
    return parseVmmConfig({
      name: spec.name,
      console: spec.console,
      memory: spec.memory,
      harts: spec.cpus,
      ...boot,
      disks,
      net: vmmNet(spec, tapDevice),
      buses: spec.network.kind !== 'none' && spec.network.bus ? { net: spec.network.bus } : {},
      controlSocket: paths.controlSocket,
      consoleLog: { path: paths.consoleLog },
      ...(paths.restore !== undefined ? { restore: paths.restore } : {}),
      ...(paths.incoming !== undefined ? { incoming: paths.incoming } : {}),
    });
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}
