import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { decodeBootImage, encodeBootImage, openBootImage, inspectImage, type VendorBootImage } from '../../src/bootimg/index.js';
import { FormatError } from '../../src/bytes/errors.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { androidImage } from '../arb/bootimg.js';

const fixture = (n: string) => new Uint8Array(readFileSync(new URL(`../fixtures/bootimg/${n}`, import.meta.url)));

/** A value or a FormatError; anything else fails the test. */
function decodeOrFormatError(b: Uint8Array): void {
  try {
    const img = decodeBootImage(b);
    encodeBootImage(img); // whatever decodes must encode again
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

describe('bootimg corrupt input', () => {
  for (const name of ['v2.img', 'v3.img', 'vendor_v3.img']) {
    it(`${name}: every truncation gives a FormatError or a value`, () => {
      const b = fixture(name);
      for (let n = 0; n <= b.length; n++) decodeOrFormatError(b.subarray(0, n));
    });
  }

  it('every truncation of a header region is TRUNCATED with an offset inside the file', () => {
    const b = fixture('v2.img');
    for (let n = 0; n < 2048; n++)
      assert.throws(() => decodeBootImage(b.subarray(0, n)), (e: unknown) => e instanceof FormatError && e.code === (n < 8 ? 'BAD_MAGIC' : 'TRUNCATED') && e.offset <= 0x1000);
  });

  it('random byte flips in generated images give a FormatError or a value, never another exception', () => {
    fc.assert(
      fc.property(androidImage, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }), (m, flips) => {
        const b = encodeBootImage(m).slice();
        for (const [at, v] of flips) b[at % Math.min(b.length, 4096)] = v;
        decodeOrFormatError(b);
      }),
      { seed: 99, numRuns: 300 },
    );
  });

  it('a zImage header whose end address lies before its start is no zImage length, and inspect goes on', async () => {
    const kernel = new Uint8Array(0x4000);
    const dv = new DataView(kernel.buffer);
    dv.setUint32(0x24, 0x016f2818, true);
    for (const [start, end, want] of [[0x10000, 0x800, undefined], [0, 0x2000, 0x2000], [0, 0xffff_ffff, 0xffff_ffff]] as const) {
      dv.setUint32(0x28, start, true);
      dv.setUint32(0x2c, end, true);
      const img = decodeBootImage(fixture('v2.img'));
      const report = await inspectImage(decodeBootImage(encodeBootImage({ ...img, kernel } as typeof img)));
      assert.equal(report.kernel?.zImage?.size, want);
    }
  });

  it('a device-tree header in the last bytes of a kernel, its structure offset past them, is no DTB, and inspect goes on', async () => {
    const kernel = new Uint8Array(0x1000);
    const dv = new DataView(kernel.buffer);
    const at = kernel.length - 40;
    dv.setUint32(at, 0xd00dfeed); // magic, then totalsize 40, off_dt_struct 38, version 17
    dv.setUint32(at + 4, 40);
    dv.setUint32(at + 8, 38);
    dv.setUint32(at + 20, 17);
    const img = decodeBootImage(fixture('v2.img'));
    const report = await inspectImage(decodeBootImage(encodeBootImage({ ...img, kernel } as typeof img)));
    assert.ok(report.kernel);
  });

  it('unpack of a vendor_boot with 1,100 ramdisks needs no more than a few open files', () => {
    const v3 = decodeBootImage(fixture('vendor_v3.img')) as VendorBootImage;
    const ramdisks = Array.from({ length: 1100 }, (_, i) => ({ data: Uint8Array.of(i & 0xff), type: 1, name: new TextEncoder().encode(`n${i}`), boardId: new Array(16).fill(0) }));
    const bytes = encodeBootImage({ ...v3, headerVersion: 4, ramdisks, bootconfig: new Uint8Array(0) } as VendorBootImage);
    const dir = mkdtempSync(join(tmpdir(), 'imgkit-many-'));
    try {
      const img = join(dir, 'vendor_boot.img');
      spawnSync('sh', ['-c', 'cat > "$1"', 'sh', img], { input: bytes });
      const bin = new URL('../../bin/bootimg', import.meta.url).pathname;
      const r = spawnSync('sh', ['-c', 'ulimit -n 256 && exec "$0" unpack "$1" -o "$2"', bin, img, join(dir, 'out')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const names = readdirSync(join(dir, 'out'));
      assert.ok(names.includes('bootimg.json'));
      assert.equal(names.filter((n) => n.startsWith('vendor_ramdisk')).length, 1100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('flips of the size and version words of real images never crash inspect either', async () => {
    const b = fixture('v2.img');
    const words = [0x08, 0x10, 0x18, 0x24, 0x28, 0x660, 0x664, 0x66c, 0x670];
    for (const w of words)
      for (const v of [0, 1, 3, 4, 5, 0x7fff, 0xffff_ffff, 0x8000_0000]) {
        const c = b.slice();
        new DataView(c.buffer).setUint32(w, v, true);
        try {
          const img = await openBootImage(bytesAccess(c, 'bootimg'));
          await inspectImage(img);
        } catch (e) {
          assert.ok(e instanceof FormatError, `word 0x${w.toString(16)} = ${v}: ${String(e)}`);
        }
      }
  });
});
