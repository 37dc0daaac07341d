// The one error type of the guest-assets layer: every failure to find, fetch, verify or unpack a
// guest asset is an ImageError whose message says what went wrong and what the user can do.

export type ImageErrorCode =
  | 'NO_MIRROR' // no Debian archive in the apt configuration and none given
  | 'NETWORK' // a request failed or timed out
  | 'HTTP' // the mirror answered with an error status
  | 'SIGNATURE' // the Release file's signature did not verify
  | 'CHECKSUM' // a file's size or SHA-256 does not match the archive's
  | 'NOT_FOUND' // a package or file is not in the archive
  | 'FORMAT' // a file could not be parsed (deb, tar, cpio, Release, Packages)
  | 'UNSUPPORTED' // a valid file uses a feature this code does not handle
  | 'NOT_AN_IMAGE'; // a directory given as a built image has no valid image.json, or a file it names is gone

export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Hint appended to messages about the archive, telling how to choose another one. */
export const MIRROR_HINT =
  'pass another Debian mirror with --mirror URL (or the environment variable BERTH_MIRROR)';
