/** Segments and compression: the kernel's grammar, each compressor checked by its reference tool, pigz determinism. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { collect } from '../../src/bytes/source.js';
import { FormatError } from '../../src/bytes/errors.js';
import { compressStream, encodeCpio, extractRecords, extractSegments, pigz, walkInitramfs, S_IFDIR, type InitramfsCompression } from '../../src/cpio/index.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getCodec } from '../../src/codec/registry.js';
import { has, tempDir } from '../helpers.js';
import { literalOnlyLzma } from '../codec/lzma-sdk.js';

const te = new TextEncoder();
const archive = (tag: string, n = 3) =>
  encodeCpio([{ name: tag, mode: S_IFDIR | 0o755 }, ...Array.from({ length: n }, (_, i) => ({ name: `${tag}/f${i}`, mode: 0o100644, data: te.encode(`${tag} ${i} `.repeat(i * 50)) }))]);
const concat = (...p: Uint8Array[]) => Uint8Array.from(p.flatMap((x) => [...x]));
/**
 * As `concat`, with zeros before each uncompressed archive (it starts with '0') that the kernel
 * would otherwise meet at an offset that is not a multiple of 4: it counts that from the image start.
 */
const concatAligned = (...p: Uint8Array[]): Uint8Array => {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const x of p) {
    if (x[0] === 0x30 && at % 4 !== 0) {
      out.push(new Uint8Array(4 - (at % 4)));
      at += 4 - (at % 4);
    }
    out.push(x);
    at += x.length;
  }
  return concat(...out);
};
const compressed = async (b: Uint8Array, m: InitramfsCompression) => collect(compressStream([b], m));
const names = (segs: Awaited<ReturnType<typeof walkInitramfs>>) => segs.flatMap((s) => s.records.map((r) => r.entry.name));

/** The reference tool that decodes each method, as the kernel would be fed it. */
const TOOLS: Partial<Record<InitramfsCompression, string[]>> = {
  gzip: ['gzip', '-dc'], xz: ['xz', '-dc'], lzma: ['xz', '--format=lzma', '-dc'], zstd: ['zstd', '-dc'], lz4: ['lz4', '-dc'], bzip2: ['bzip2', '-dc'],
};

describe('initramfs compression', () => {
  for (const m of ['gzip', 'xz', 'lzma', 'zstd', 'lz4', 'bzip2'] as const) {
    it(`${m}: our reader and ${TOOLS[m]![0]} both give back the archive`, async (t) => {
      if (m === 'bzip2' && !(await getCodec('bzip2')).encode) return t.skip('no bzip2 encoder in src/codec yet');
      const a = archive('root', 20);
      const c = await compressed(a, m);
      const segs = await walkInitramfs(c);
      assert.equal(segs.length, 1);
      assert.equal(segs[0]!.compression, m);
      assert.equal(segs[0]!.rawSize, a.length);
      const [tool, ...args] = TOOLS[m]!;
      if (!has(tool!)) return;
      const r = spawnSync(tool!, args, { input: c, maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, r.stderr?.toString());
      assert.deepEqual(new Uint8Array(r.stdout), a);
    });
  }

  it('xz uses a CRC32 check (XZ Embedded refuses CRC64) and a 512 KiB dictionary', async () => {
    const c = await compressed(archive('x', 30), 'xz');
    assert.equal(c[7], 0x01, 'stream flags: check type 1 = CRC32');
    if (has('xz')) {
      const r = spawnSync('xz', ['-lvv', '--robot', '-'], { input: c, encoding: 'utf8' });
      if (r.status === 0) assert.match(r.stdout, /CRC32/);
    }
  });

  it('lz4 is the legacy frame (02 21 4c 18), the only one the kernel reads', async () => {
    const c = await compressed(archive('x'), 'lz4');
    assert.deepEqual([...c.subarray(0, 4)], [0x02, 0x21, 0x4c, 0x18]);
  });

  it('pigz: one valid gzip member, identical for any thread count and input chunking', async () => {
    const big = new Uint8Array(3 * (1 << 20) + 12345);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) % 251;
    const one = await collect(pigz([big], { parallel: 1 }));
    const four = await collect(pigz([big.subarray(0, 1000), big.subarray(1000, 2_000_000), big.subarray(2_000_000)], { parallel: 4 }));
    assert.deepEqual(four, one);
    assert.deepEqual(new Uint8Array(gunzipSync(one)), big);
    if (has('gzip')) assert.equal(spawnSync('gzip', ['-t'], { input: one }).status, 0);
    // the member is a single one: exactly one header
    assert.equal([...one].filter((b, i) => b === 0x1f && one[i + 1] === 0x8b && one[i + 2] === 8).length >= 1, true);
    assert.deepEqual(new Uint8Array(gunzipSync(await collect(pigz([])))), new Uint8Array(0));
  });

  it('pigz -9 output is within 1% of gzip -9n on text-like data', async (t) => {
    if (!has('gzip')) return t.skip('gzip not installed');
    const parts: string[] = [];
    for (let i = 0; i < 60000; i++) parts.push(`line ${i} ${(i * 2654435761) % 1000003} ${['alpha', 'beta', 'gamma'][i % 3]}\n`);
    const data = te.encode(parts.join(''));
    const ours = await collect(pigz([data]));
    const theirs = spawnSync('gzip', ['-9n'], { input: data, maxBuffer: 1 << 26 }).stdout;
    assert.ok(ours.length <= theirs.length * 1.01, `ours ${ours.length}, gzip -9n ${theirs.length}`);
  });
});

describe('initramfs segments (kernel grammar)', () => {
  it('walks uncompressed early + zero padding + gzip + xz + zstd segments, as the kernel does', async () => {
    const img = concatAligned(
      archive('early', 1), new Uint8Array(4),
      await compressed(archive('g'), 'gzip'), new Uint8Array(7),
      await compressed(archive('x'), 'xz'),
      await compressed(archive('z'), 'zstd'), new Uint8Array(512),
      archive('tail', 1),
    );
    const segs = await walkInitramfs(img);
    assert.deepEqual(segs.map((s) => s.compression), ['none', 'gzip', 'xz', 'zstd', 'none']);
    assert.deepEqual(names(segs), ['early', 'early/f0', 'g', 'g/f0', 'g/f1', 'g/f2', 'x', 'x/f0', 'x/f1', 'x/f2', 'z', 'z/f0', 'z/f1', 'z/f2', 'tail', 'tail/f0']);
    assert.equal(segs[1]!.offset, archive('early', 1).length + 4);
  });

  it('a gzip segment followed at once by an archive (no padding), two gzip members in a row, then an archive', async () => {
    // a gzip segment whose length is a multiple of 4, so the archive after it is at an aligned offset
    let first = await compressed(archive('g'), 'gzip');
    for (let n = 1; first.length % 4 !== 0; n++) first = await compressed(concat(archive('g'), new Uint8Array(n * 4)), 'gzip');
    const img = concatAligned(first, archive('plain', 1), await compressed(archive('h', 1), 'gzip'), await compressed(archive('i', 1), 'gzip'), archive('end', 1));
    assert.equal(img[first.length], 0x30);
    const segs = await walkInitramfs(img);
    assert.deepEqual(segs.map((s) => s.compression), ['gzip', 'none', 'gzip', 'none']);
    assert.deepEqual(names(segs), ['g', 'g/f0', 'g/f1', 'g/f2', 'plain', 'plain/f0', 'h', 'h/f0', 'i', 'i/f0', 'end', 'end/f0']);
  });

  it('an archive after a compressed segment must start 4-aligned counted from the image start (this_header), not from the segment end', async () => {
    let odd = await compressed(archive('g'), 'gzip');
    for (let n = 1; odd.length % 4 !== 1; n++) odd = await compressed(concat(archive('g'), new Uint8Array(n * 4)), 'gzip');
    // right after the segment: offset ≡ 1 (mod 4), so the kernel takes '0' for a compressor's magic
    await assert.rejects(walkInitramfs(concat(odd, archive('x', 1))), (e: unknown) => e instanceof FormatError && e.code === 'BAD_MAGIC' && e.offset === odd.length);
    // three zeros later it is aligned (the segment end is not), and the kernel unpacks it
    const segs = await walkInitramfs(concat(odd, new Uint8Array(3), archive('x', 1)));
    assert.deepEqual(segs.map((s) => [s.compression, s.offset]), [['gzip', 0], ['none', odd.length + 3]]);
  });

  it('two archives in one compressed segment, zero padding between (flush_buffer)', async () => {
    const segs = await walkInitramfs(await compressed(concat(archive('a', 1), new Uint8Array(8), archive('b', 1)), 'gzip'));
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.archives, 2);
    assert.deepEqual(names(segs), ['a', 'a/f0', 'b', 'b/f0']);
  });

  it('hard links are matched within one archive: the kernel forgets them at each trailer', async () => {
    // two archives in one segment whose hard-linked pairs share inode numbers
    const pair = (tag: string) => encodeCpio([
      { name: `${tag}1`, mode: 0o100644, ino: 7, nlink: 2, data: new Uint8Array(0) },
      { name: `${tag}2`, mode: 0o100644, ino: 7, nlink: 2, data: new TextEncoder().encode(`${tag}\n`) },
    ]);
    const segs = await walkInitramfs(await compressed(concat(pair('a'), pair('b')), 'gzip'));
    assert.deepEqual(segs[0]!.archiveStarts, [0, 2]);
    const dir = tempDir('imgkit-links-');
    try {
      await extractRecords(segs[0]!.records, dir, { archiveStarts: segs[0]!.archiveStarts });
      const ino = (n: string) => statSync(join(dir, n)).ino;
      assert.equal(ino('a1'), ino('a2'));
      assert.equal(ino('b1'), ino('b2'));
      assert.notEqual(ino('a1'), ino('b1'));
      assert.equal(readFileSync(join(dir, 'a1'), 'utf8'), 'a\n');
      assert.equal(readFileSync(join(dir, 'b2'), 'utf8'), 'b\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('extractSegments matches hard links within each archive of each segment, and one that fails leaves nothing of any segment', async () => {
    const pair = (tag: string) => encodeCpio([
      { name: `${tag}1`, mode: 0o100644, ino: 7, nlink: 2, data: new Uint8Array(0) },
      { name: `${tag}2`, mode: 0o100644, ino: 7, nlink: 2, data: te.encode(`${tag}\n`) },
    ]);
    // the same inode numbers in a plain segment, then in two archives of a compressed one
    const segs = await walkInitramfs(concatAligned(pair('a'), await compressed(concat(pair('b'), pair('c')), 'gzip')));
    assert.deepEqual(segs.map((s) => s.archiveStarts), [[0], [0, 2]]);
    const dir = tempDir('imgkit-segments-');
    try {
      await extractSegments(segs, join(dir, 'ok'));
      const ino = (n: string) => statSync(join(dir, 'ok', n)).ino;
      for (const t of 'abc') {
        assert.equal(ino(`${t}1`), ino(`${t}2`), t);
        assert.equal(readFileSync(join(dir, 'ok', `${t}1`), 'utf8'), `${t}\n`);
      }
      assert.equal(new Set(['a1', 'b1', 'c1'].map(ino)).size, 3);
      // the second segment writes through a symlink the first made: refused, and the first's
      // entries go too; a folder that was there keeps what it held
      const bad = await walkInitramfs(concatAligned(
        encodeCpio([{ name: 'd', mode: 0o40755 }, { name: 'd/f', mode: 0o100644, data: te.encode('f') }, { name: 'l', mode: 0o120777, data: te.encode(dir) }]),
        await compressed(encodeCpio([{ name: 'l/escape', mode: 0o100644, data: te.encode('x') }]), 'gzip'),
      ));
      const fails = (to: string) => assert.rejects(extractSegments(bad, to), (e: unknown) => e instanceof FormatError && /"l" is not a directory but a symlink/.test(e.message));
      await fails(join(dir, 'new', 'out'));
      assert.ok(!existsSync(join(dir, 'new')));
      mkdirSync(join(dir, 'was', 'd'), { recursive: true });
      writeFileSync(join(dir, 'was', 'd', 'mine'), 'mine');
      await fails(join(dir, 'was'));
      assert.deepEqual(readdirSync(join(dir, 'was')), ['d']);
      assert.deepEqual(readdirSync(join(dir, 'was', 'd')), ['mine']);
      assert.ok(!existsSync(join(dir, 'escape')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an lz4 segment goes to the end of the image, as the kernel reads it', async () => {
    const segs = await walkInitramfs(concat(archive('e', 1), await compressed(archive('l'), 'lz4')));
    assert.deepEqual(segs.map((s) => s.compression), ['none', 'lz4']);
  });

  it('junk inside a compressed segment, an unknown magic, and a segment ending mid-entry are FormatErrors with offsets', async () => {
    const bad = await compressed(concat(archive('a', 1), te.encode('junk')), 'gzip');
    await assert.rejects(walkInitramfs(bad), (e: unknown) => e instanceof FormatError && /junk within compressed archive/.test(e.message));
    const early = archive('e', 1);
    await assert.rejects(walkInitramfs(concat(early, te.encode('PK\x03\x04 not a compressor'))), (e: unknown) => e instanceof FormatError && e.code === 'BAD_MAGIC' && e.offset === early.length);
    const a = archive('cut', 3);
    const cut = await compressed(a.subarray(0, 300), 'gzip'); // a valid gzip stream of a partial archive
    await assert.rejects(walkInitramfs(cut), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED' && e.offset === 0);
    const gz = await compressed(a, 'gzip');
    await assert.rejects(walkInitramfs(gz.subarray(0, gz.length - 20)), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED');
  });
});

describe('initramfs lzma segments end where the kernel\'s unlzma stops', () => {
  /**
   * The kernel takes '0' for an archive only at a 4-aligned offset, counted in the image
   * (this_header = saved_offset + my_inptr); these segments end on one, so that what follows is
   * an archive both for the kernel and for the walker.
   */
  const alignedSegment = async (make: (n: number) => Promise<Uint8Array>) => {
    for (let n = 1; ; n++) {
      const seg = await make(n);
      if (seg.length % 4 === 0) return { seg, n };
    }
  };

  it('after the end marker (unknown size): a following archive, zero padding and further segments are read', async () => {
    const { seg: lz, n } = await alignedSegment((k) => compressed(archive('l', k), 'lzma'));
    assert.deepEqual([...lz.subarray(5, 13)], Array(8).fill(0xff), 'compressStream writes "size unknown", as the lzma tool');
    const img = concat(lz, archive('plain', 1), new Uint8Array(9), await compressed(archive('m', 1), 'lzma'), new Uint8Array(4), await compressed(archive('g', 1), 'gzip'));
    const segs = await walkInitramfs(img);
    assert.deepEqual(segs.map((s) => s.compression), ['lzma', 'none', 'lzma', 'gzip']);
    assert.equal(segs[0]!.size, lz.length);
    assert.deepEqual(names(segs), ['l', ...Array.from({ length: n }, (_, i) => `l/f${i}`), 'plain', 'plain/f0', 'm', 'm/f0', 'g', 'g/f0']);
  });

  it('after the stated size when there is no end marker (LZMA SDK form), with an archive right after it', async () => {
    const { seg: sdk, n } = await alignedSegment(async (k) => literalOnlyLzma(archive('s', k)));
    const segs = await walkInitramfs(concat(sdk, archive('next', 1)));
    assert.deepEqual(segs.map((s) => s.compression), ['lzma', 'none']);
    assert.equal(segs[0]!.size, sdk.length);
    assert.deepEqual(names(segs), ['s', ...Array.from({ length: n }, (_, i) => `s/f${i}`), 'next', 'next/f0']);
  });

  it('an end marker after a stated size is refused: the kernel stops at the size and fails on the marker', async () => {
    const early = archive('e', 1);
    // stated size + end marker: xz's form (unknown size, end marker) with the real size written in
    const inner = archive('k', 1);
    const sized = Uint8Array.from(await (await getCodec('lzma')).encode!(inner, { lzma: { sizeInHeader: false } }));
    new DataView(sized.buffer).setBigUint64(5, BigInt(inner.length), true);
    await assert.rejects(walkInitramfs(concat(early, sized)), (e: unknown) =>
      e instanceof FormatError && e.code === 'BAD_FIELD' && e.offset === early.length + 5 && /end marker follows the stated size/.test(e.message));
  });
});

describe('initramfs output budget', () => {
  /** One compressed archive holding a file of `n` zero bytes, and its decompressed size. */
  const big = async (tag: string, n: number, m: InitramfsCompression) => {
    const a = encodeCpio([{ name: tag, mode: 0o100644, data: new Uint8Array(n) }]);
    return { bytes: await compressed(a, m), raw: a.length };
  };
  /** Compressed segments separated by trailer-only archives, and the offset of each compressed one. */
  const image = (segs: readonly { bytes: Uint8Array }[]) => {
    const parts: Uint8Array[] = [];
    const offsets: number[] = [];
    let at = 0;
    for (const s of segs) {
      if (parts.length > 0) {
        // at a 4-aligned offset, as the kernel wants an uncompressed archive
        const trailer = concat(new Uint8Array((4 - (at % 4)) % 4), encodeCpio([]));
        parts.push(trailer);
        at += trailer.length;
      }
      offsets.push(at);
      parts.push(s.bytes);
      at += s.bytes.length;
    }
    return { img: concat(...parts), offsets };
  };

  it('maxOutput bounds the decompressed segments together; the segment that crosses it is LIMIT at its offset', async () => {
    const segs = [await big('a', 150_000, 'zstd'), await big('b', 150_000, 'xz'), await big('c', 150_000, 'zstd'), await big('d', 150_000, 'gzip')];
    const { img, offsets } = image(segs);
    const raw = segs.map((s) => s.raw);
    const sum = raw.reduce((a, b) => a + b, 0);
    assert.ok(img.length < 8192, `${img.length} bytes`);

    const all = await walkInitramfs(img, { maxOutput: sum });
    assert.deepEqual(all.filter((s) => s.compression !== 'none').map((s) => [s.offset, s.rawSize]), offsets.map((o, i) => [o, raw[i]]));
    assert.equal((await walkInitramfs(img)).length, all.length, 'the default limit (1 GiB) holds the whole image');

    // each segment alone fits; together they cross the limit at the second, third or fourth
    for (const [crossing, max] of [[1, raw[0]! + raw[1]! - 1], [2, raw[0]! + raw[1]! + raw[2]! - 1], [3, sum - 1], [0, raw[0]! - 1]] as const) {
      await assert.rejects(walkInitramfs(img, { maxOutput: max }), (e: unknown) => {
        assert.ok(e instanceof FormatError, String(e));
        assert.equal(e.format, 'initramfs', e.message);
        assert.equal(e.code, 'LIMIT', e.message);
        assert.equal(e.offset, offsets[crossing], `${e.message}: expected the segment at ${offsets[crossing]}`);
        if (crossing > 0) assert.match(e.message, /bytes decoded from the segments before it count against maxOutput/);
        return true;
      });
    }
  });

  it('an image of many segments that each fit is refused once their sum passes the limit', async () => {
    const seg = await big('z', 1 << 20, 'zstd'); // 1 MiB in a few hundred bytes
    const { img, offsets } = image(Array.from({ length: 6 }, () => seg));
    await assert.rejects(walkInitramfs(img, { maxOutput: 4 * seg.raw + 100 }), (e: unknown) => e instanceof FormatError && e.code === 'LIMIT' && e.offset === offsets[4]);
    assert.equal((await walkInitramfs(img, { maxOutput: 6 * seg.raw })).filter((s) => s.compression === 'zstd').length, 6);
    await assert.rejects(walkInitramfs(img, { maxOutput: -1 }), RangeError);
  });
});

describe('initramfs with many entries', () => {
  it('lists a compressed segment of 130 001 entries (the records are gathered without a spread into push)', async () => {
    const n = 130_001;
    const items = Array.from({ length: n }, (_, i) => ({ name: i.toString(16), mode: 0o100644 }));
    const segs = await walkInitramfs(await compressed(encodeCpio(items), 'zstd'));
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.compression, 'zstd');
    assert.equal(segs[0]!.records.length, n);
    assert.equal(segs[0]!.records[n - 1]!.entry.name, (n - 1).toString(16));
  });
});
