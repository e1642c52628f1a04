import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBootImage, encodeBootImage, openBootImage, writeBootImage, computeBootId } from '../../src/bootimg/index.js';
import { bytesAccess, fileAccess } from '../../src/bytes/random.js';
import { memorySink, withOutputFile } from '../../src/bytes/sink.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { payloadBytes, type Payload } from '../../src/bytes/payload.js';
import type { AndroidImage } from '../../src/bootimg/model.js';
import { androidImage } from '../arb/bootimg.js';

const RUNS = { seed: 20261121, numRuns: 150 };

async function streamEncode(img: AndroidImage): Promise<Uint8Array> {
  const s = memorySink();
  await writeBootImage(s, img);
  return s.bytes();
}

describe('bootimg round trips', () => {
  it('encode(decode(encode(m))) = encode(m): decoding keeps every byte', async () => {
    await fc.assert(
      fc.asyncProperty(androidImage, async (m) => {
        const a = encodeBootImage(m);
        const d = decodeBootImage(a);
        assert.deepEqual(encodeBootImage(d), a);
        assert.equal(d.kind, m.kind);
        assert.equal(d.headerVersion, m.headerVersion);
      }),
      RUNS,
    );
  });

  it('the streaming writer and the in-memory encoder give the same bytes', async () => {
    await fc.assert(fc.asyncProperty(androidImage, async (m) => assert.deepEqual(await streamEncode(m), encodeBootImage(m))), RUNS);
  });

  it('decoding keeps the blobs, and the computed id is the one mkbootimg defines', async () => {
    await fc.assert(
      fc.asyncProperty(androidImage, async (m) => {
        const d = decodeBootImage(encodeBootImage(m));
        if (m.kind === 'boot' && d.kind === 'boot') {
          for (const k of ['kernel', 'ramdisk', 'second', 'dt', 'recoveryDtbo', 'dtb', 'signature', 'tail'] as const) assert.deepEqual(d[k], m[k], k);
          if (m.headerVersion <= 2) {
            const want = typeof m.id === 'string' ? await computeBootId(m, m.id) : m.id;
            assert.deepEqual(d.id, want);
          }
        } else if (m.kind === 'vendor_boot' && d.kind === 'vendor_boot') {
          assert.deepEqual(d.ramdisks.map((r) => r.data), m.ramdisks.map((r) => r.data));
          if (m.headerVersion === 4) assert.deepEqual(d.ramdisks.map((r) => r.boardId), m.ramdisks.map((r) => r.boardId));
          assert.deepEqual(d.dtb, m.dtb);
          assert.deepEqual(d.bootconfig, m.bootconfig);
          assert.deepEqual(d.tail, m.tail);
        }
      }),
      RUNS,
    );
  });

  it('encoding twice gives identical bytes', () => {
    fc.assert(fc.property(androidImage, (m) => assert.deepEqual(encodeBootImage(m), encodeBootImage(m))), RUNS);
  });

  it('openBootImage over random access streams the same blobs as decodeBootImage', async () => {
    await fc.assert(
      fc.asyncProperty(androidImage, async (m) => {
        const bytes = encodeBootImage(m);
        const opened = await openBootImage(bytesAccess(bytes, 'bootimg'));
        const s = memorySink();
        await writeBootImage(s, opened);
        assert.deepEqual(s.bytes(), bytes);
        if (opened.kind === 'boot' && m.kind === 'boot') assert.deepEqual(await payloadBytes(opened.kernel), m.kernel);
      }),
      { ...RUNS, numRuns: 60 },
    );
  });

  it('from a file to a file (blobs copied by the kernel where the addon is built, hashed as they go) the bytes stay the same', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-bootimg-files-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    let k = 0;
    await fc.assert(
      fc.asyncProperty(androidImage, async (m) => {
        // a computed id (sha1 or sha256) in the input, and to compute again: the writer hashes while it copies
        const algo = k % 2 ? 'sha256' : 'sha1';
        const hashed = <T extends AndroidImage<Payload>>(x: T): T => (x.kind === 'boot' && x.headerVersion <= 2 ? { ...x, id: algo } : x);
        const bytes = encodeBootImage(hashed(m));
        const src = join(dir, `in${k}.img`);
        const out = join(dir, `out${k++}.img`);
        await writeFile(src, bytes);
        const ra = await fileAccess(src, 'bootimg');
        try {
          const img = hashed(await openBootImage(ra));
          await withOutputFile(out, (s) => writeBootImage(s, img));
          assert.deepEqual(new Uint8Array(await readFile(out)), bytes);
        } finally {
          await ra.close?.();
        }
        await rm(src);
        await rm(out);
      }),
      { ...RUNS, numRuns: 40 },
    );
  });
});
