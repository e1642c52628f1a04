import { join } from 'node:path';
import { copyPayloadCrc, type Payload } from '../bytes/payload.js';
import { withOutputFile, writeFileAtomic } from '../bytes/sink.js';
import { mapLimit } from '../bytes/map-limit.js';
import { hostFromText } from '../bytes/names.js';
import { Rollback } from '../bytes/rollback.js';
import type { AndroidImage } from './model.js';
import { toManifest, MANIFEST_NAME, type Manifest } from './manifest.js';

/** Blobs copied at once. */
const COPIES_IN_FLIGHT = 16;

/**
 * Writes every blob of an image into `dir` (each file appears only when complete; a planted
 * symlink is replaced, never followed), then `bootimg.json`. File names are fixed: nothing from
 * the image names a path. The blobs are copied side by side (with the native addon, on the
 * thread pool, each summed with CRC-32 as it passes): the manifest records each blob's CRC-32 next
 * to the stored id, so that `repack` keeps the id while the blobs are unchanged and renews it when
 * one changed. The id is not checked here (`inspectImage` does that). An unpacking that fails (a
 * full disk) removes the files it wrote where nothing was, and `dir` when it made it.
 */
export async function unpackBootImage(img: AndroidImage<Payload>, dir: string): Promise<{ manifest: Manifest }> {
  const { files } = toManifest(img, undefined);
  // a file that was there (an earlier unpack's) is replaced, not recorded: only new names go again
  return Rollback.around(dir, async (rollback) => {
    // COPIES_IN_FLIGHT at a time: a vendor_boot may list thousands of ramdisks, and one open file each
    // would exhaust the descriptors
    const sums = await mapLimit(files, COPIES_IN_FLIGHT, async ([name, p]) => {
      rollback.makingFile(hostFromText(join(dir, name)));
      return withOutputFile(join(dir, name), async (sink) => (await copyPayloadCrc(sink, p)).crc);
    });
    const { manifest } = toManifest(img, { crc32: new Map(files.map(([, p], i) => [p, sums[i]!])) });
    rollback.makingFile(hostFromText(join(dir, MANIFEST_NAME)));
    await writeFileAtomic(join(dir, MANIFEST_NAME), new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
    return { manifest };
  });
}
