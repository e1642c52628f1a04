/**
 * Hostile images for the corruption tests, made by patching a small image we write (uncompressed
 * metadata, so fields can be found and changed). `node --import tsx test/squashfs/bad.ts --write`
 * stores them as test/fixtures/squashfs/bad/<CODE>--<what>.bin.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { memorySink } from '../../src/bytes/sink.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { writeSquashfs } from '../../src/squashfs/write.js';
import type { SourceInode } from '../../src/squashfs/tree.js';

const te = new TextEncoder();
const file = (content: Uint8Array): SourceInode => ({ kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, content, size: content.length });
const dir = (entries: Record<string, SourceInode>): SourceInode => ({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: Object.entries(entries).map(([name, inode]) => ({ name, inode })) });

export function baseTree(): SourceInode {
  const random = new Uint8Array(8192 + 100).map((_, i) => (i * 2654435761) >>> 24);
  return dir({
    a: dir({ LOOP: dir({}) }),
    big: file(random),
    text: file(te.encode('compressible text '.repeat(456)).subarray(0, 8192)),
    small: file(te.encode('small file\n')),
    link: { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, target: 'small' },
  });
}

/** A tree with every kind of entry, names that are not UTF-8, nested and empty directories, and hard links. */
export function listingTree(): SourceInode {
  const t = baseTree();
  const file = (size: number, fill: number): SourceInode => ({ kind: 'file', mode: 0o644, uid: 1000, gid: 100, mtime: 1_600_000_000, size, content: new Uint8Array(size).fill(fill) });
  const shared = file(3000, 3);
  const sub: SourceInode = {
    kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000,
    entries: [
      { name: 'big', inode: file(70_000, 9) },
      { name: 'empty', inode: { kind: 'dir', mode: 0o700, uid: 0, gid: 0, mtime: 1, entries: [] } },
      { name: 'link1', inode: shared },
      { name: 'link2', inode: shared },
      { name: 'long-target', inode: { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 2, target: 'x/'.repeat(300) } },
      { name: 'ok\xe9', inode: file(10, 1) },
      ...Array.from({ length: 300 }, (_, i) => ({ name: `n${String(i).padStart(3, '0')}`, inode: file(i, i % 250) })),
    ],
  };
  t.entries!.push(
    { name: 'bad\udcff', inode: file(5, 5) },
    { name: 'blk', inode: { kind: 'blockdev', mode: 0o600, uid: 0, gid: 0, mtime: 1, major: 8, minor: 1 } },
    { name: 'd', inode: sub },
    { name: 'dev', inode: { kind: 'chardev', mode: 0o4755, uid: 0, gid: 0, mtime: 1, major: 300, minor: 70000 } },
    { name: 'fifo', inode: { kind: 'fifo', mode: 0o1644, uid: 0, gid: 0, mtime: 1 } },
    { name: 'sock', inode: { kind: 'socket', mode: 0o2755, uid: 0, gid: 0, mtime: 1 } },
  );
  return t;
}

export async function baseImage(): Promise<Uint8Array> {
  const sink = memorySink();
  await writeSquashfs(sink, baseTree(), { blockSize: 4096, noInodeCompression: true, pad: false });
  return sink.bytes();
}

const u16 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint16(at, v, true);
const u32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v, true);
const get64 = (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));
const set64 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt(v), true);

/** name → [expected code, image]. */
export async function badImages(): Promise<Map<string, [string, Uint8Array]>> {
  const base = await baseImage();
  const fs = await openSquashfs(bytesAccess(base, 'squashfs'));
  const sb = fs.superblock;
  const inodeAt = async (path: string) => {
    const root = await fs.root();
    let entries = await fs.readdir(root);
    const parts = path.split('/');
    let ref = { block: 0, offset: 0 };
    for (const p of parts) {
      const e = entries.find((x) => Buffer.from(x.name).toString() === p)!;
      ref = e.inode;
      const i = await fs.inode(ref);
      if (i.kind === 'dir') entries = await fs.readdir(i);
    }
    if (ref.block !== 0) throw new Error('test image grew past one metadata block');
    return sb.inodeTableStart + 2 + ref.offset;
  };
  const out = new Map<string, [string, Uint8Array]>();
  const patch = (name: string, code: string, f: (b: Uint8Array) => void) => {
    const b = base.slice();
    f(b);
    out.set(name, [code, b]);
  };

  // a directory entry that points back at its own directory
  const a = await fs.lookup('a');
  const aRef = (await fs.readdir(await fs.root())).find((e) => Buffer.from(e.name).toString() === 'a')!.inode;
  const loopName = Buffer.from(base).indexOf('LOOP', sb.directoryTableStart);
  patch('BAD_FIELD--directory-loop', 'BAD_FIELD', (b) => {
    const entry = loopName - 8, header = entry - 12;
    u32(b, header + 4, aRef.block);
    u32(b, header + 8, a.inodeNumber);
    u16(b, entry, aRef.offset);
    u16(b, entry + 2, 0);
  });
  const small = await inodeAt('small');
  patch('BAD_FIELD--fragment-index-out-of-range', 'BAD_FIELD', (b) => u32(b, small + 20, 7));
  const big = await inodeAt('big');
  patch('BAD_FIELD--block-larger-than-block-size', 'BAD_FIELD', (b) => u32(b, big + 32, 4097));
  const text = await inodeAt('text');
  patch('LIMIT--block-decompresses-past-file-size', 'LIMIT', (b) => u32(b, text + 28, 4096 + 10));
  patch('BAD_FIELD--tables-out-of-order', 'BAD_FIELD', (b) => {
    set64(b, 64, get64(base, 72));
    set64(b, 72, get64(base, 64));
  });
  patch('BAD_FIELD--metadata-block-too-large', 'BAD_FIELD', (b) => u16(b, sb.inodeTableStart, 0x2001));
  patch('BAD_FIELD--inode-type', 'BAD_FIELD', (b) => u16(b, small, 15));
  const link = await inodeAt('link');
  patch('LIMIT--symlink-size', 'LIMIT', (b) => u32(b, link + 20, 0x7fff_ffff));
  patch('BAD_MAGIC--magic', 'BAD_MAGIC', (b) => u32(b, 0, 0x12345678));
  patch('UNSUPPORTED--version-3', 'UNSUPPORTED', (b) => u16(b, 28, 3));
  patch('UNSUPPORTED--compressor-id', 'UNSUPPORTED', (b) => u16(b, 20, 9));
  patch('BAD_FIELD--block-log', 'BAD_FIELD', (b) => u16(b, 22, 13));
  out.set('TRUNCATED--cut-in-half', ['TRUNCATED', base.slice(0, base.length >> 1)]);
  patch('BAD_FIELD--id-index', 'BAD_FIELD', (b) => u16(b, small + 4, 9));
  return out;
}

if (process.argv.includes('--write')) {
  const dirOut = new URL('../fixtures/squashfs/bad/', import.meta.url).pathname;
  mkdirSync(dirOut, { recursive: true });
  for (const [name, [, bytes]] of await badImages()) writeFileSync(join(dirOut, `${name}.bin`), bytes);
}
