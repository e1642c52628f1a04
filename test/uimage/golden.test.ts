/**
 * Layout and golden fixtures: the header struct against include/image.h, the enum tables against
 * mkimage's own `-T list` tables, and the images mkimage 2023.01 wrote (test/fixtures/uimage/make.sh):
 * we decode them, re-encode them byte for byte through the mkimage rules, and print their listing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../src/bytes/errors.js';
import { crc32, crc32Js, crc32IsNative } from '../../src/bytes/crc32.js';
import { memorySink } from '../../src/bytes/sink.js';
import {
  HEADER_SIZE, LegacyHeader, decodeLegacyImage, encodeLegacyImage, legacyListingBytes, mkimageSpec, openLegacyBytes, writeLegacyImage,
  ARCH_TABLE, OS_TABLE, TYPE_TABLE, COMP_TABLE, idOf, longNameOf, nameOf, formatSize, ctimeUtc, sourceDateEpoch,
} from '../../src/uimage/index.js';
import { fixed2 } from '../../src/uimage/legacy-text.js';
import { root } from '../helpers.js';

const FIX = join(root, 'test/fixtures/uimage');
const read = (f: string) => new Uint8Array(readFileSync(join(FIX, f)));

describe('uimage layout', () => {
  it('legacy header is 64 bytes with include/image.h offsets', () => {
    assert.equal(LegacyHeader.size, 64);
    assert.deepEqual(LegacyHeader.offsets, { magic: 0, hcrc: 4, time: 8, size: 12, load: 16, ep: 20, dcrc: 24, os: 28, arch: 29, type: 30, comp: 31, name: 32 });
  });

  it('tables: every value appears with U-Boot 2023.01 names, and lookups are case-insensitive', () => {
    assert.equal(ARCH_TABLE.length, 26); // 25 values, "powerpc" and "ppc" both 7
    assert.equal(OS_TABLE.length, 26);
    assert.equal(TYPE_TABLE.length, 41);
    assert.equal(COMP_TABLE.length, 7);
    assert.equal(idOf('arch', 'PPC'), 7);
    assert.equal(nameOf('arch', 7), 'powerpc');
    assert.equal(nameOf('arch', 3), 'x86');
    assert.equal(idOf('type', 'kernel_noload'), 14);
    assert.equal(longNameOf('os', 13), 'Unknown OS'); // lynxos: in the enum, in no table
    assert.equal(longNameOf('arch', 200), 'Unknown Architecture');
    assert.equal(longNameOf('type', 22), 'Unknown Image');
    assert.equal(longNameOf('comp', 9), 'Unknown Compression');
    for (const tab of [ARCH_TABLE, OS_TABLE, TYPE_TABLE, COMP_TABLE]) for (const e of tab) assert.ok(e.id >= 0 && e.id < 256 && e.name && e.long);
  });

  it('sizes print as glibc printf does: ties to even, %d wraps at 2 GiB', () => {
    assert.equal(fixed2(128, 1024), '0.12'); // 0.125: glibc rounds the tie to even, toFixed would say 0.13
    assert.equal(fixed2(384, 1024), '0.38'); // 0.375 → 0.38
    assert.equal(fixed2(5, 1024), '0.00');
    assert.equal(fixed2(12320, 1024), '12.03');
    assert.equal(formatSize(13), '13 Bytes = 0.01 KiB = 0.00 MiB');
    assert.equal(formatSize(0xffff_ffff), '-1 Bytes = 4194304.00 KiB = 4096.00 MiB');
    assert.equal(ctimeUtc(1700000000), 'Tue Nov 14 22:13:20 2023');
    assert.equal(ctimeUtc(0), 'Thu Jan  1 00:00:00 1970');
  });

  it('SOURCE_DATE_EPOCH is read as strtol(…, 10) and stored modulo 2^32', () => {
    assert.deepEqual(sourceDateEpoch(undefined, 42), { time: 42 });
    assert.deepEqual(sourceDateEpoch('315532800', 0), { time: 315532800 });
    assert.deepEqual(sourceDateEpoch('  12abc', 0), { time: 12 });
    assert.deepEqual(sourceDateEpoch('abc', 0), { time: 0 });
    assert.deepEqual(sourceDateEpoch('-1', 0), { time: 0xffff_ffff });
    assert.deepEqual(sourceDateEpoch('4294967296', 0), { time: 0 });
    assert.equal(sourceDateEpoch('99999999999999999999', 0).warning, 'SOURCE_DATE_EPOCH is not valid');
  });

  it(`CRC-32: node:zlib (${crc32IsNative ? 'present' : 'absent here'}) and the crc-32 fallback agree`, () => {
    const data = new Uint8Array(100_003).map((_, i) => (i * 131 + (i >> 7)) % 256);
    assert.equal(crc32(data), crc32Js(data));
    assert.equal(crc32(data.subarray(5000), crc32(data.subarray(0, 5000))), crc32Js(data));
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });
});

interface Golden {
  img: string;
  opts: Omit<Parameters<typeof mkimageSpec>[0], 'data' | 'time'>;
  inputs: string[];
}

// the same arguments as make.sh, as mkimageSpec options
const GOLDEN: Golden[] = [
  { img: 'kernel-lzma.img', opts: { arch: 5, os: 5, type: 2, comp: 3, load: 0x80000000, ep: 0x80000000, name: 'Linux-6.1' }, inputs: ['small.bin'] },
  { img: 'defaults.img', opts: {}, inputs: ['small.bin'] },
  { img: 'multi.img', opts: { arch: 2, os: 5, type: 4, comp: 0, load: 0x40008000, name: 'multi' }, inputs: ['a.bin', 'b.bin', 'c.bin'] },
  { img: 'script.img', opts: { arch: 22, os: 5, type: 6, comp: 0 }, inputs: ['boot.cmd'] },
  { img: 'name40.img', opts: { arch: 2, os: 5, type: 3, comp: 1, name: 'a name that is longer than thirty-two bytes' }, inputs: ['small.bin'] },
  { img: 'xip.img', opts: { arch: 2, os: 17, type: 5, comp: 0, load: 0x1000, xip: true }, inputs: ['xip.bin'] },
  { img: 'firmware-ivt.img', opts: { arch: 2, os: 17, type: 32, comp: 0, load: 0x877ff400 }, inputs: ['small.bin'] },
  { img: 'tee.img', opts: { arch: 2, os: 26, type: 2, comp: 0, name: 'tee' }, inputs: ['tee.bin'] },
  { img: 'header-only.img', opts: { arch: 26, os: 5, type: 14, comp: 6, skipData: true }, inputs: ['small.bin'] },
];

describe('uimage golden fixtures (mkimage 2023.01)', () => {
  for (const g of GOLDEN) {
    it(`${g.img}: mkimage rules reproduce it, listing matches, it decodes`, async () => {
      const want = read(g.img);
      const spec = await mkimageSpec({ ...g.opts, data: g.inputs.map(read), time: 1700000000 });
      assert.deepEqual(encodeLegacyImage(spec), want);
      const sink = memorySink();
      await writeLegacyImage(sink, spec);
      assert.deepEqual(sink.bytes(), want);
      const img = decodeLegacyImage(want);
      assert.equal(img.trailing, 0);
      const listed = legacyListingBytes(img.header, img.header.type === 4 || img.header.type === 6 ? img.parts : []);
      const text = new TextDecoder().decode(read(g.img.replace('.img', '.txt')));
      // script offsets are addresses in mkimage's memory map; ours are offsets in the file (base 0)
      assert.equal(new TextDecoder().decode(listed), text);
      const opened = await openLegacyBytes(want);
      assert.deepEqual(opened.parts, img.parts);
    });
  }

  it('multi.img: parts at 0x50, 0x58, 0x5c with padding between, none after the last', () => {
    const img = decodeLegacyImage(read('multi.img'));
    assert.deepEqual(img.parts, [{ offset: 0x50, size: 5 }, { offset: 0x58, size: 3 }, { offset: 0x5c, size: 6 }]);
    assert.equal(img.header.size, 34);
    assert.equal(HEADER_SIZE + img.header.size, read('multi.img').length);
  });
});

describe('uimage bad fixtures: the file name is the assertion', () => {
  const dir = join(FIX, 'bad');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.bin'))) {
    const code = f.split('--')[0]!;
    it(f, async () => {
      const bytes = new Uint8Array(readFileSync(join(dir, f)));
      assert.throws(() => decodeLegacyImage(bytes), (e: unknown) => e instanceof FormatError && e.code === code && e.format === 'uimage');
      await assert.rejects(openLegacyBytes(bytes), (e: unknown) => e instanceof FormatError && e.code === code);
    });
  }

  it('CRC checks can be turned off; structure checks cannot', () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'BAD_CHECKSUM--dcrc.bin')));
    assert.equal(decodeLegacyImage(bytes, { verify: false }).header.size, 13);
    const past = new Uint8Array(readFileSync(join(dir, 'TRUNCATED--size-past-eof.bin')));
    assert.throws(() => decodeLegacyImage(past, { verify: false }), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED' && e.offset === 12);
  });
});
