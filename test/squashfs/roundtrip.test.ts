/**
 * Writer → reader round trips on arbitrary trees (fast-check), for every option that changes the
 * layout; determinism; and the per-record encoders against their decoders.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { memorySink } from '../../src/bytes/sink.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { ByteCursor } from '../../src/bytes/cursor.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { writeSquashfs, type WriteOptions } from '../../src/squashfs/write.js';
import type { SourceInode } from '../../src/squashfs/tree.js';
import { decodeRdev, encodeRdev, Superblock, SUPERBLOCK_SIZE } from '../../src/squashfs/layout.js';
import { DirBuilder, decodeListing } from '../../src/squashfs/dir.js';
import { decodeCompressorOptions, encodeCompressorOptions } from '../../src/squashfs/compressor.js';
import { decodeSuperblock, encodeSuperblock } from '../../src/squashfs/super.js';

const name = fc.stringMatching(/^[a-zA-Z0-9._ -]{1,12}$/).filter((s) => s !== '.' && s !== '..');
const meta = { mode: fc.integer({ min: 0, max: 0o7777 }), uid: fc.integer({ min: 0, max: 70_000 }), gid: fc.integer({ min: 0, max: 70_000 }), mtime: fc.integer({ min: 0, max: 0xffff_ffff }) };
const xattrs = fc.option(fc.uniqueArray(fc.record({ name: fc.constantFrom('user.a', 'user.b', 'trusted.x', 'security.selinux'), value: fc.uint8Array({ maxLength: 300 }) }), { selector: (x) => x.name, maxLength: 3 }), { nil: undefined });
const content = fc.oneof(
  fc.uint8Array({ maxLength: 9000 }),
  fc.integer({ min: 0, max: 20_000 }).map((n) => new Uint8Array(n)), // zeros: sparse blocks
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 300 })).map(([b, k]) => new Uint8Array(Array.from({ length: k }, () => [...b]).flat())),
);
const leaf = fc.oneof(
  fc.record({ kind: fc.constant('file' as const), ...meta, content, xattrs }).map(({ xattrs: x, ...f }): SourceInode => ({ ...f, size: f.content.length, ...(x && { xattrs: x }) })),
  fc.record({ kind: fc.constant('symlink' as const), ...meta, target: fc.string({ minLength: 1, maxLength: 400 }) }),
  fc.record({ kind: fc.constantFrom('chardev' as const, 'blockdev' as const), ...meta, major: fc.integer({ min: 0, max: 4095 }), minor: fc.integer({ min: 0, max: 2 ** 20 - 1 }) }),
  fc.record({ kind: fc.constantFrom('fifo' as const, 'socket' as const), ...meta }),
) as fc.Arbitrary<SourceInode>;
const tree: fc.Arbitrary<SourceInode> = fc.letrec((tie) => ({
  dir: fc.record({
    kind: fc.constant('dir' as const), ...meta,
    entries: fc.uniqueArray(fc.record({ name, inode: fc.oneof({ depthSize: 'small' }, leaf, tie('dir') as fc.Arbitrary<SourceInode>) }), { selector: (e) => e.name, maxLength: 8 }),
  }),
})).dir as fc.Arbitrary<SourceInode>;

const options: fc.Arbitrary<WriteOptions> = fc.record({
  compressor: fc.constantFrom('gzip' as const, 'lz4' as const, 'zstd' as const),
  blockSize: fc.constantFrom(4096, 8192, 65536),
  noInodeCompression: fc.boolean(), noDataCompression: fc.boolean(), noFragmentCompression: fc.boolean(), noXattrCompression: fc.boolean(),
  noFragments: fc.boolean(), alwaysUseFragments: fc.boolean(), noDuplicates: fc.boolean(), noSparse: fc.boolean(), noExports: fc.boolean(), pad: fc.boolean(),
  mkfsTime: fc.integer({ min: 0, max: 0xffff_ffff }),
});

/** Adds hard links: a few leaves appear under a second name. */
function withLinks(t: SourceInode): SourceInode {
  const files: SourceInode[] = [];
  const visit = (n: SourceInode) => n.entries?.forEach((e) => (e.inode.kind === 'dir' ? visit(e.inode) : files.push(e.inode)));
  visit(t);
  files.slice(0, 2).forEach((f, i) => t.entries!.push({ name: `~link${i}`, inode: f }));
  return t;
}

async function write(t: SourceInode, o: WriteOptions): Promise<Uint8Array> {
  const sink = memorySink();
  await writeSquashfs(sink, t, o);
  return sink.bytes();
}

describe('squashfs round trip', () => {
  it('reads back every inode, name, attribute, xattr, link and byte that was written; twice gives the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(tree.map(withLinks), options, async (t, o) => {
        const img = await write(t, o);
        assert.ok(Buffer.from(img).equals(Buffer.from(await write(t, o))), 'not deterministic');
        if (o.pad !== false) assert.equal(img.length % 4096, 0);
        const fs = await openSquashfs(bytesAccess(img, 'squashfs'));
        const seen = new Map<SourceInode, number>();
        const check = async (src: SourceInode, path: string) => {
          const inode = await fs.lookup(path);
          const st = await fs.stat(inode);
          assert.equal(inode.kind, src.kind, path);
          assert.equal(inode.mode, src.mode, path);
          assert.equal(st.uid, src.uid);
          assert.equal(st.gid, src.gid);
          assert.equal(inode.mtime, src.mtime);
          if (src.kind !== 'dir') {
            const first = seen.get(src);
            if (first !== undefined) assert.equal(inode.inodeNumber, first, `${path} is a hard link`);
            seen.set(src, inode.inodeNumber);
          }
          const xs = o.noXattrs ? [] : (src.xattrs ?? []);
          assert.deepEqual((await fs.xattrs(inode)).map((x) => [x.name, Buffer.from(x.value).toString('hex')]).sort(), xs.map((x) => [x.name, Buffer.from(x.value).toString('hex')]).sort());
          switch (src.kind) {
            case 'file':
              assert.ok(Buffer.from(await fs.readFile(inode)).equals(Buffer.from(src.content as Uint8Array)), `${path} content`);
              break;
            case 'symlink':
              assert.equal(await fs.readlink(inode), src.target);
              break;
            case 'chardev':
            case 'blockdev':
              assert.deepEqual([st.major, st.minor], [src.major, src.minor]);
              break;
            case 'dir': {
              const names = (await fs.readdir(inode)).map((e) => Buffer.from(e.name).toString());
              assert.deepEqual(names, src.entries!.map((e) => e.name).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
              for (const e of src.entries!) await check(e.inode, `${path}/${e.name}`);
            }
          }
          if (!o.noExports) assert.deepEqual(await fs.inode(await fs.exportRef(inode.inodeNumber)), inode);
        };
        await check(t, '');
        assert.equal(fs.superblock.mkfsTime, o.mkfsTime);
      }),
      { numRuns: 60 },
    );
  });

  it('handles a 300-entry directory and names that push the listing past 8 KiB (extended inode, index)', async () => {
    const f = (i: number): SourceInode => ({ kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, content: new Uint8Array([i % 256]), size: 1 });
    const t: SourceInode = {
      kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0,
      entries: [
        { name: 'many', inode: { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: Array.from({ length: 300 }, (_, i) => ({ name: `f${i}`, inode: f(i) })) } },
        { name: 'long', inode: { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: Array.from({ length: 100 }, (_, i) => ({ name: `${'n'.repeat(240)}${i}`, inode: f(i) })) } },
      ],
    };
    const fs = await openSquashfs(bytesAccess(await write(t, { blockSize: 4096 }), 'squashfs'));
    const many = await fs.lookup('many');
    const long = await fs.lookup('long');
    assert.equal(many.extended, true);
    assert.equal(long.extended, true);
    assert.ok(long.index.length >= 2, 'a directory index every 8 KiB');
    assert.equal((await fs.readdir(many)).length, 300);
    assert.equal((await fs.readFile(`long/${'n'.repeat(240)}42`))[0], 42);
  });
});

describe('squashfs records', () => {
  it('superblock: 96 bytes, fields at the offsets of struct squashfs_super_block, encode/decode pair', () => {
    assert.equal(Superblock.size, SUPERBLOCK_SIZE);
    assert.deepEqual([Superblock.offsets.blockSize, Superblock.offsets.compression, Superblock.offsets.rootInode, Superblock.offsets.bytesUsed, Superblock.offsets.lookupTableStart], [12, 20, 32, 40, 88]);
    const sb = {
      inodes: 5, mkfsTime: 7, blockSize: 4096, blockLog: 12, fragments: 0, compression: 'xz' as const, flags: 0xc0, noIds: 1, major: 4, minor: 0,
      rootInode: { block: 0, offset: 64 }, bytesUsed: 4000, idTableStart: 3000, xattrIdTableStart: undefined, inodeTableStart: 1000,
      directoryTableStart: 2000, fragmentTableStart: 2500, lookupTableStart: undefined,
    };
    assert.deepEqual(decodeSuperblock(encodeSuperblock(sb), 4096), sb);
  });

  it('rdev: Linux new_encode_dev, including major > 255 and minor > 255', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 2 ** 20 - 1 }), (major, minor) => {
      assert.deepEqual(decodeRdev(encodeRdev(major, minor)), { major, minor });
    }));
    assert.equal(encodeRdev(300, 70000), 0x1111_2c70);
  });

  it('directory listings: decode(build(entries)) gives the entries back, whatever the inode blocks and numbers', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.record({ name: fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((n) => !n.includes(0x2f) && !n.includes(0) && !(n.length <= 2 && n.every((b) => b === 0x2e))), block: fc.integer({ min: 0, max: 3 }).map((b) => b * 8200), offset: fc.integer({ min: 0, max: 8191 }), num: fc.integer({ min: 1, max: 200_000 }) }), { selector: (e) => Buffer.from(e.name).toString('hex'), maxLength: 600 }),
      (list) => {
        list.sort((a, b) => Buffer.compare(a.name, b.name));
        const d = new DirBuilder();
        for (const e of list) d.add(e.name, 'file', { block: e.block, offset: e.offset }, e.num, 2);
        const back = decodeListing(new ByteCursor(d.finish(), 'squashfs'));
        assert.deepEqual(back.map((e) => [Buffer.from(e.name).toString('hex'), e.inode.block, e.inode.offset, e.inodeNumber]), list.map((e) => [Buffer.from(e.name).toString('hex'), e.block, e.offset, e.num]));
      },
    ));
  });

  it('compressor options: what mksquashfs writes, and only for non-default settings', () => {
    assert.equal(encodeCompressorOptions('gzip', {}, 131072), undefined);
    assert.equal(Buffer.from(encodeCompressorOptions('gzip', { level: 6 }, 131072)!).toString('hex'), '060000000f000000');
    assert.equal(Buffer.from(encodeCompressorOptions('lz4', {}, 131072)!).toString('hex'), '0100000000000000');
    assert.equal(Buffer.from(encodeCompressorOptions('zstd', { level: 3 }, 131072)!).toString('hex'), '03000000');
    assert.equal(Buffer.from(encodeCompressorOptions('xz', { filters: 9 }, 4096)!).toString('hex'), '0010000009000000');
    assert.equal(encodeCompressorOptions('xz', { dictSize: 131072 }, 131072), undefined);
    assert.deepEqual(decodeCompressorOptions('xz', encodeCompressorOptions('xz', { dictSize: 3 * 2 ** 15, filters: 8 }, 131072)!, 96), { dictSize: 3 * 2 ** 15, filters: 8 });
  });
});
