import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { payloadSize, type Payload } from '../bytes/payload.js';
import { withOutputFile, writeBehind, writeFileAtomic, type ByteSink } from '../bytes/sink.js';
import type { AndroidImage } from './model.js';
import { copyPayload, idParts } from './write.js';
import { idHash, type AsyncHash } from './hash-worker.js';
import { toManifest, MANIFEST_NAME, type Manifest } from './manifest.js';
import type { IdCheck } from './inspect.js';

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** The digest a stored id was made with: SHA-256 fills bytes 20–31, SHA-1 leaves them zero. */
export function idAlgorithm(stored: Uint8Array): 'sha1' | 'sha256' | undefined {
  if (stored.every((x) => x === 0)) return undefined;
  return stored.subarray(20).some((x) => x !== 0) ? 'sha256' : 'sha1';
}

/**
 * Writes every blob of an image into `dir` (each file appears only when complete; a planted
 * symlink is replaced, never followed), then `bootimg.json`. The id is checked in the same pass
 * that copies the blobs. File names are fixed: nothing from the image names a path.
 */
export async function unpackBootImage(img: AndroidImage<Payload>, dir: string): Promise<{ manifest: Manifest; id: IdCheck | undefined }> {
  await mkdir(dir, { recursive: true });
  let hash: AsyncHash | undefined;
  let id: IdCheck | undefined;
  let parts: Payload[] = [];
  if (img.kind === 'boot' && img.headerVersion <= 2 && img.id instanceof Uint8Array) {
    const algo = idAlgorithm(img.id);
    if (algo) {
      id = algo;
      parts = idParts(img);
      hash = idHash(algo, parts.reduce((n, p) => n + payloadSize(p), 0));
    } else id = 'zero';
  }
  const { files } = toManifest(img, undefined);
  let next = 0;
  let digest: Uint8Array | undefined;
  try {
    for (const [name, p] of files) {
      // absent id parts (never written as files) count as le32(0)
      while (hash && next < parts.length && parts[next] !== p && payloadSize(parts[next]) === 0) (await hash.update(le32(0)), next++);
      const h = hash !== undefined && next < parts.length && parts[next] === p ? hash : undefined;
      await withOutputFile(join(dir, name), (sink) => copyHashed(sink, p, h));
      if (h) (await h.update(le32(payloadSize(p))), next++);
    }
    if (hash) {
      for (; next < parts.length; next++) await hash.update(le32(payloadSize(parts[next])));
      digest = await hash.digest();
    }
  } finally {
    hash?.close();
  }
  if (digest) {
    const stored = img.kind === 'boot' && img.id instanceof Uint8Array ? img.id : new Uint8Array(32);
    if (!digest.every((x, i) => x === stored[i]) || stored.subarray(digest.length).some((x) => x !== 0)) id = 'mismatch';
  }
  const { manifest } = toManifest(img, id);
  await writeFileAtomic(join(dir, MANIFEST_NAME), new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
  return { manifest, id };
}

/** Copies a payload into the sink, hashing it as it goes (the copy overlapping the hash). */
async function copyHashed(sink: ByteSink, p: Payload, h: AsyncHash | undefined): Promise<void> {
  const w = writeBehind(sink);
  try {
    await copyPayload(sink, w, p, h);
  } finally {
    await w.flush();
  }
}
