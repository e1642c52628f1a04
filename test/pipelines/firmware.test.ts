/**
 * `assembleFirmware` / `describeFirmware` / `imgkit firmware`: budget arithmetic, the over-budget error
 * with its exact byte count, erase-block alignment (fast-check), partition tables, OpenWrt-style images
 * made by mkimage + mksquashfs + dd (fixture), and hostile input (always FormatError).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { encodeLegacyImage } from '../../src/uimage/legacy-write.js';
import {
  assembleFirmware, describeFirmware, FirmwareBudgetError, formatBudget, layoutJson, parseMtdparts, parseSize, type SquashfsPart,
} from '../../src/firmware/index.js';
import { root, tempDir } from '../helpers.js';

const FIX = join(root, 'test/fixtures/firmware');
/** A real 4 KiB squashfs (mksquashfs 4.5, xz), from the fixture image (see SOURCES.md). */
const fixture = new Uint8Array(readFileSync(join(FIX, 'openwrt-4k.bin')));
const SQUASHFS = fixture.subarray(0x3000, 0x4000);

function kernel(n: number, name = 'test kernel'): Uint8Array {
  const data = new Uint8Array(n).map((_, i) => (i * 7 + 3) % 251);
  return encodeLegacyImage({ os: 5, arch: 5, type: 2, comp: 0, load: 0x80060000, ep: 0x80060000, time: 315532800, name, parts: [data] });
}

describe('assembleFirmware', () => {
  it('puts the rootfs at the next erase block and prints the budget', () => {
    const k = kernel(100_000 - 64);
    const { image, budget } = assembleFirmware({ kernel: k, rootfs: SQUASHFS, eraseBlock: 0x1_0000, flashSize: 4 << 20 });
    assert.equal(budget.parts[1]!.offset, 0x2_0000);
    assert.equal(budget.parts[0]!.padding, 0x2_0000 - 100_000);
    assert.equal(budget.imageSize, 0x3_0000);
    assert.equal(budget.left, (4 << 20) - 0x3_0000);
    assert.equal(image.length, 0x3_0000);
    assert.ok(image.subarray(100_000, 0x2_0000).every((b) => b === 0xff));
    assert.deepEqual(image.subarray(0x2_0000, 0x2_1000), SQUASHFS);
    const text = formatBudget(budget);
    assert.match(text, /^kernel\s+0x00000000\s+100000\s+31072\s+4194304\s+4094304$/m);
    assert.match(text, /^rootfs\s+0x00020000\s+4096\s+61440/m);
    assert.match(text, /4194304 \(4 MiB\): 3997696 bytes left after the rootfs \(61 erase blocks for rootfs_data\)/);
  });

  it('over budget: FirmwareBudgetError with the exact bytes over, and no image', () => {
    const k = kernel(200_000 - 64);
    // rootfs at 0x40000 (4 KiB blocks: 200704), ends at 200704 + 4096 = 204800; budget 200704 → 4096 over
    assert.throws(() => assembleFirmware({ kernel: k, rootfs: SQUASHFS, eraseBlock: 4096, flashSize: 200_704 }), (e: unknown) => {
      assert.ok(e instanceof FirmwareBudgetError);
      assert.deepEqual(e.overruns.map((o) => o.bytes), [4096]);
      assert.match(e.message, /is 4096 bytes over its 200704-byte budget/);
      return true;
    });
    fc.assert(fc.property(fc.integer({ min: 1, max: 300_000 }), fc.integer({ min: 1, max: 64 }), (n, blocks) => {
      const eb = 4096, limit = blocks * eb, k2 = kernel(n);
      const end = Math.ceil(k2.length / eb) * eb + SQUASHFS.length;
      try {
        const { image } = assembleFirmware({ kernel: k2, rootfs: SQUASHFS, eraseBlock: eb, flashSize: limit });
        assert.ok(end <= limit && image.length <= limit);
      } catch (e) {
        assert.ok(e instanceof FirmwareBudgetError && end > limit && e.overruns[0]!.bytes === end - limit);
      }
    }), { numRuns: 60 });
  });

  it('alignment: for any kernel size and erase block, the rootfs starts on the first boundary after the kernel and describeFirmware finds it there', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 150_000 }), fc.constantFrom(4096, 8192, 0x1_0000, 0x2_0000), fc.boolean(), async (n, eb, pad) => {
      const k = kernel(n);
      const { image, budget } = assembleFirmware({ kernel: k, rootfs: SQUASHFS, eraseBlock: eb, ...(pad ? { flashSize: 64 * eb, pad } : {}) });
      const at = budget.parts[1]!.offset;
      assert.equal(at % eb, 0);
      assert.ok(at >= k.length && at - k.length < eb);
      assert.equal(image.length, pad ? 64 * eb : Math.ceil((at + SQUASHFS.length) / eb) * eb);
      const l = await describeFirmware(image, { eraseBlock: eb });
      assert.equal(l.parts[0]!.kind, 'uimage');
      assert.equal(l.parts[0]!.size, k.length);
      assert.equal(l.parts.find((p) => p.kind === 'squashfs')!.offset, at);
    }), { numRuns: 40 });
  });

  it('partition table (mtdparts): each part at its partition, each within it; the bytes over named per part', () => {
    const parts = parseMtdparts('256k(u-boot)ro,64k(u-boot-env),1536k(kernel),-(rootfs)', 4 << 20);
    assert.deepEqual(parts.map((p) => [p.name, p.offset, p.size]), [['u-boot', 0, 0x4_0000], ['u-boot-env', 0x4_0000, 0x1_0000], ['kernel', 0x5_0000, 0x18_0000], ['rootfs', 0x1d_0000, 0x23_0000]]);
    const { image, budget } = assembleFirmware({ kernel: kernel(1000), rootfs: SQUASHFS, partitions: parts, pad: true });
    assert.equal(image.length, 0x18_0000 + 0x23_0000); // from the kernel partition to the end of the rootfs one
    assert.deepEqual(image.subarray(0x18_0000, 0x18_1000), SQUASHFS);
    assert.equal(budget.parts[0]!.left, 0x18_0000 - 1064);
    assert.throws(() => assembleFirmware({ kernel: kernel(0x18_0000), rootfs: SQUASHFS, partitions: parts }),
      (e: unknown) => e instanceof FirmwareBudgetError && /the kernel is 64 bytes over its 1572864-byte budget \(1536 KiB\)/.test(e.message));
    const fw = parseMtdparts('mtdparts=spi0.0:192k(u-boot)ro,64k(art)ro,-(firmware)', 1 << 20);
    assert.equal(assembleFirmware({ kernel: kernel(1000), rootfs: SQUASHFS, partitions: fw }).budget.limit, (1 << 20) - 0x4_0000);
    assert.throws(() => parseMtdparts('64k(a),-(b)'), RangeError);
    assert.throws(() => parseMtdparts('64k(a),32k@16k(b)'), /overlaps/);
  });

  it('sizes: 65536, 0x10000, 64k, 64KiB, 4M, 4MiB; inputs that are not a uImage / squashfs are FormatErrors', () => {
    for (const s of ['65536', '0x10000', '64k', '64KiB', '64 kb']) assert.equal(parseSize(s), 65536);
    assert.equal(parseSize('4MiB'), 4 << 20);
    assert.throws(() => parseSize('4 furlongs'), RangeError);
    assert.throws(() => assembleFirmware({ kernel: SQUASHFS, rootfs: SQUASHFS }), (e: unknown) => e instanceof FormatError && e.code === 'BAD_MAGIC');
    assert.throws(() => assembleFirmware({ kernel: kernel(10), rootfs: kernel(10) }), (e: unknown) => e instanceof FormatError && e.format === 'firmware');
    assert.throws(() => assembleFirmware({ kernel: kernel(10), rootfs: SQUASHFS, flashSize: 100_000 }), /not a multiple of the 65536-byte erase block/);
  });
});

describe('describeFirmware', () => {
  it('OpenWrt-style image from mkimage + mksquashfs + dd (fixture): the parts a flash splitter finds', async () => {
    const l = await describeFirmware(fixture, { eraseBlock: 4096 });
    const expected = JSON.parse(readFileSync(join(FIX, 'openwrt-4k.json'), 'utf8'));
    assert.deepEqual(JSON.parse(JSON.stringify(layoutJson(l))), expected);
    const sq = l.parts.find((p): p is SquashfsPart => p.kind === 'squashfs')!;
    assert.equal(sq.offset, 0x3000);
    assert.equal(l.parts.at(-1)!.kind, 'jffs2-eof');
  });

  it('a squashfs right after the kernel (no alignment) and a squashfs alone are found too', async () => {
    const k = kernel(1000);
    const cat = new Uint8Array(k.length + SQUASHFS.length);
    cat.set(k);
    cat.set(SQUASHFS, k.length);
    assert.equal((await describeFirmware(cat)).parts[1]!.offset, k.length);
    assert.equal((await describeFirmware(SQUASHFS)).parts[0]!.kind, 'squashfs');
  });

  it('bad/ fixtures throw their named code', async () => {
    for (const f of readdirSync(join(FIX, 'bad'))) {
      const code = f.split('--')[0];
      await assert.rejects(describeFirmware(new Uint8Array(readFileSync(join(FIX, 'bad', f)))), (e: unknown) => e instanceof FormatError && e.code === code, f);
    }
  });

  it('hostile input: truncations and byte flips give a layout or a FormatError, never another exception', async () => {
    const img = fixture.subarray(0, 0x5000);
    await fc.assert(fc.asyncProperty(fc.nat({ max: img.length }), fc.array(fc.tuple(fc.nat({ max: img.length - 1 }), fc.nat({ max: 255 })), { maxLength: 4 }), async (cut, flips) => {
      const b = img.slice(0, cut);
      for (const [i, v] of flips) if (i < b.length) b[i] = v;
      try {
        await describeFirmware(b, { eraseBlock: 4096 });
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
      }
    }), { numRuns: 300 });
  });
});

describe('firmware CLI', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/firmware.ts'), ...args], { encoding: 'utf8', cwd: root });

  it('pack prints the budget; over budget exits 1 naming the bytes; info describes the image; usage errors exit 2', () => {
    const dir = tempDir('imgkit-fw-cli-');
    try {
      writeFileSync(join(dir, 'k'), kernel(100_000 - 64));
      writeFileSync(join(dir, 'r'), SQUASHFS);
      let r = cli(['pack', '--kernel', join(dir, 'k'), '--rootfs', join(dir, 'r'), '-o', join(dir, 'fw'), '--flash-size', '4MiB']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /3997696 bytes left after the rootfs/);
      r = cli(['info', join(dir, 'fw')]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /0x00020000-0x00020\w+\s+\d+\s+rootfs\s+squashfs 4\.0 xz/);
      r = cli(['pack', '--kernel', join(dir, 'k'), '--rootfs', join(dir, 'r'), '-o', join(dir, 'fw2'), '--flash-size', '128KiB']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /is 4096 bytes over its 131072-byte budget \(128 KiB\)/);
      r = cli(['info', join(dir, 'k'.repeat(1)), '--bogus']);
      assert.equal(r.status, 2);
      writeFileSync(join(dir, 'junk'), new Uint8Array(100));
      r = cli(['info', join(dir, 'junk')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /Cannot parse firmware: no uImage, FIT or squashfs at 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
