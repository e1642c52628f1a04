/**
 * Hostile input: every named corruption (test/fixtures/squashfs/bad/<CODE>--*.bin, the file name
 * is the assertion) is a FormatError with that code; random byte flips and truncations of real
 * images give a FormatError or a valid read, never another exception, a hang or a huge allocation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { memorySink } from '../../src/bytes/sink.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { writeSquashfs, type WriteOptions } from '../../src/squashfs/write.js';
import { badImages, baseTree } from './bad.js';

/** Reads everything an image holds, as `ls -l`, `cat` and `extract` would. */
async function exercise(img: Uint8Array): Promise<void> {
  const fs = await openSquashfs(bytesAccess(img, 'squashfs'), { maxFileSize: 1 << 20 });
  for await (const { inode } of fs.walk()) {
    await fs.stat(inode);
    await fs.xattrs(inode);
    if (inode.kind === 'symlink') await fs.readlink(inode);
    if (inode.kind === 'file') for await (const c of fs.createReadStream(inode)) void c;
    if (fs.exportTable) await fs.exportRef(inode.inodeNumber);
  }
}

/** Runs `exercise`, failing on anything but a FormatError, or on taking longer than `ms`. */
async function mustBeFormatErrorOrValid(img: Uint8Array, ms = 5000): Promise<FormatError | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`hang: no result after ${ms} ms`)), ms)));
  try {
    await Promise.race([exercise(img), timeout]);
    return undefined;
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

async function image(o: WriteOptions): Promise<Uint8Array> {
  const t = baseTree();
  t.entries!.push({ name: 'x', inode: { kind: 'file', mode: 0o600, uid: 5, gid: 6, mtime: 1, size: 5, content: new TextEncoder().encode('xattr'), xattrs: [{ name: 'user.small', value: new Uint8Array([1]) }, { name: 'user.big', value: new Uint8Array(500).fill(7) }] } });
  t.entries!.push({ name: 'dev', inode: { kind: 'chardev', mode: 0o600, uid: 0, gid: 0, mtime: 1, major: 300, minor: 70000 } });
  t.entries!.push({ name: 'hole', inode: { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1, size: 20000, content: new Uint8Array(20000) } });
  const sink = memorySink();
  await writeSquashfs(sink, t, { blockSize: 4096, pad: false, ...o });
  return sink.bytes();
}

describe('squashfs hostile input', () => {
  it('every bad/ fixture throws the FormatError its name says', async () => {
    const dir = new URL('../fixtures/squashfs/bad/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));
    assert.ok(files.length >= 10);
    for (const f of files) {
      const e = await mustBeFormatErrorOrValid(new Uint8Array(readFileSync(new URL(f, dir))));
      assert.ok(e, `${f} was read without error`);
      assert.equal(e.code, f.split('--')[0], `${f}: ${e.message}`);
    }
  });

  it('the fixtures are what bad.ts makes today (regenerate with --write when the writer changes)', async () => {
    for (const [name, [code, bytes]] of await badImages()) {
      const e = await mustBeFormatErrorOrValid(bytes);
      assert.equal(e?.code, code, `${name}: ${e?.message ?? 'no error'}`);
    }
  });

  for (const [label, o] of [['gzip', {}], ['uncompressed', { noInodeCompression: true, noDataCompression: true, noFragmentCompression: true, noXattrCompression: true }], ['lz4', { compressor: 'lz4' }]] as const) {
    it(`random byte flips in a ${label} image: a FormatError or a valid read`, async () => {
      const img = await image(o as WriteOptions);
      await exercise(img); // the original is valid
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: img.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), async (flips) => {
          const b = img.slice();
          for (const [at, x] of flips) b[at]! ^= x;
          await mustBeFormatErrorOrValid(b);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('every truncation is a FormatError', async () => {
    const img = await image({});
    for (let n = 0; n < img.length; n += 7) {
      const e = await mustBeFormatErrorOrValid(img.subarray(0, n));
      assert.ok(e, `a ${n}-byte prefix was read without error`);
    }
  });
});
