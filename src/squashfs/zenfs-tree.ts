/**
 * The writer's input tree from a file system reached through an `fs.promises`-shaped API:
 * `@zenfs/core`'s (an in-memory tree assembled by a build script, a mounted image …) or
 * node:fs/promises. File contents stream from the file system when the writer reaches them.
 * Nothing here imports `@zenfs/core`: any object with these four calls works.
 */
import { posix } from 'node:path';
import type { StreamPayload } from '../bytes/payload.js';
import type { ByteSink } from '../bytes/sink.js';
import type { FileKind } from './layout.js';
import type { SourceInode } from './tree.js';
import { writeSquashfs, type WriteOptions, type WriteResult } from './write.js';
import { mapLimit } from '../bytes/map-limit.js';

/** The calls {@link fsTree} makes (met by `@zenfs/core`'s `fs.promises` and by node:fs/promises). */
export interface FsPromisesLike {
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<FsStatLike>;
  /** Used for `root` only: on a mount point, @zenfs/core's lstat describes the directory mounted over. */
  stat(path: string): Promise<FsStatLike>;
  readlink(path: string): Promise<string>;
  open(path: string, flags: 'r'): Promise<FsHandleLike>;
}

export interface FsHandleLike {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface FsStatLike {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number | bigint;
  dev: number | bigint;
  rdev: number | bigint;
  mtimeMs: number;
  /** 512-byte blocks allocated: a file whose blocks cover its size was not sparse (see SourceInode.allocated). */
  blocks?: number;
}

export interface FsTreeOptions {
  /** Store hard links (non-directories sharing dev and ino) as separate inodes (-no-hardlinks). */
  noHardlinks?: boolean;
  /** Every inode gets this mtime instead of its own (seconds). */
  mtime?: number;
  /** Every inode is owned by root (-all-root). */
  allRoot?: boolean;
  /** Called for entries that cannot go into an image (an unknown file type). */
  onWarning?: (message: string) => void;
}

const KIND_OF_IFMT: ReadonlyMap<number, FileKind> = new Map([
  [0o040000, 'dir'], [0o100000, 'file'], [0o120000, 'symlink'], [0o060000, 'blockdev'],
  [0o020000, 'chardev'], [0o010000, 'fifo'], [0o140000, 'socket'],
]);

/** Read size for file contents, as filePayload's. */
const CHUNK = 1 << 20;
/** lstat calls in flight per directory. */
const PARALLEL = 64;
const U32_MAX = 0xffff_ffff;

/** glibc's major()/minor() of a dev_t (a 32-bit value is the kernel's new encoding too). */
function splitDev(dev: number | bigint): { major: number; minor: number } {
  const d = BigInt(dev);
  return { major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)), minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)) };
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

async function readFully(h: FsHandleLike, buf: Uint8Array, position: number, path: string): Promise<void> {
  for (let got = 0; got < buf.length; ) {
    const { bytesRead } = await h.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) throw fsError('EIO', `${path}: file shrank while being read`);
    got += bytesRead;
  }
}

/** A file's bytes, read from `fs` in 1 MiB chunks each time the writer asks; a file that changed size is an error. */
function fsFile(fs: FsPromisesLike, path: string, size: number): StreamPayload {
  return {
    size,
    async *chunks() {
      const h = await fs.open(path, 'r');
      try {
        for (let at = 0; at < size; ) {
          const buf = new Uint8Array(Math.min(CHUNK, size - at));
          await readFully(h, buf, at, path);
          at += buf.length;
          yield buf;
        }
        const { bytesRead } = await h.read(new Uint8Array(1), 0, 1, size);
        if (bytesRead !== 0) throw fsError('EIO', `${path}: file grew while being read`);
      } finally {
        await h.close();
      }
    },
    async readAt(offset, length) {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      const h = await fs.open(path, 'r');
      try {
        await readFully(h, buf, offset, path);
      } finally {
        await h.close();
      }
      return buf;
    },
  };
}

/**
 * The tree under the directory `root` of `fs` as the writer's input: `root` becomes the image's
 * root, hard links (non-directories with the same dev and ino) share one inode, symlinks get
 * mode 0777 (as on Linux), and file contents are read only when the image is written.
 *
 * @example
 * ```ts
 * import { configure, fs, InMemory } from '@zenfs/core';
 * await configure({ mounts: { '/': InMemory } });
 * fs.mkdirSync('/rootfs/etc', { recursive: true });
 * fs.writeFileSync('/rootfs/etc/hostname', 'router\n');
 * const root = await fsTree(fs.promises, '/rootfs', { allRoot: true, mtime: 1 });
 * ```
 */
export async function fsTree(fs: FsPromisesLike, root = '/', o: FsTreeOptions = {}): Promise<SourceInode> {
  const links = new Map<string, SourceInode>();
  const node = async (path: string, st: FsStatLike, depth: number): Promise<SourceInode | undefined> => {
    const kind = KIND_OF_IFMT.get(st.mode & 0o170000);
    if (!kind) {
      o.onWarning?.(`${path}: file type 0o${(st.mode & 0o170000).toString(8)} cannot go into an image, left out`);
      return undefined;
    }
    const linkKey = kind !== 'dir' && !o.noHardlinks && st.nlink > 1 ? `${String(st.dev)}:${String(st.ino)}` : undefined;
    const seen = linkKey === undefined ? undefined : links.get(linkKey);
    if (seen) return seen;
    const mtime = o.mtime ?? Math.min(U32_MAX, Math.max(0, Math.floor(st.mtimeMs / 1000)));
    // symlink permissions mean nothing on Linux, where they are always 0777 (@zenfs/core makes them 0)
    const mode = kind === 'symlink' ? 0o777 : st.mode & 0o7777;
    const n: SourceInode = { kind, mode, uid: o.allRoot ? 0 : st.uid, gid: o.allRoot ? 0 : st.gid, mtime };
    if (linkKey !== undefined) links.set(linkKey, n);
    switch (kind) {
      case 'dir': {
        if (depth > 4096) throw new RangeError(`Cannot read ${path}: directories nest deeper than 4096`);
        const names = await fs.readdir(path);
        const stats = await mapLimit(names, PARALLEL, (name) => fs.lstat(posix.join(path, name)));
        n.entries = [];
        for (let i = 0; i < names.length; i++) {
          const child = await node(posix.join(path, names[i]!), stats[i]!, depth + 1);
          if (child) n.entries.push({ name: names[i]!, inode: child });
        }
        break;
      }
      case 'file':
        n.content = fsFile(fs, path, st.size);
        n.size = st.size;
        if (typeof st.blocks === 'number') n.allocated = st.blocks * 512;
        n.source = path;
        break;
      case 'symlink':
        n.target = await fs.readlink(path);
        break;
      case 'blockdev':
      case 'chardev':
        Object.assign(n, splitDev(st.rdev));
        break;
    }
    return n;
  };
  const st = await fs.stat(root);
  if ((st.mode & 0o170000) !== 0o040000) throw fsError('ENOTDIR', `Cannot build an image from ${root}: not a directory`);
  return (await node(root, st, 0))!;
}

/**
 * Writes an image of the directory `root` of `fs` (see {@link fsTree}) to `sink`.
 *
 * @example
 * ```ts
 * await withOutputFile('root.sqfs', (sink) => writeSquashfsFromFs(sink, fs.promises, '/rootfs', { compressor: 'xz' }));
 * ```
 */
export async function writeSquashfsFromFs(sink: ByteSink, fs: FsPromisesLike, root = '/', opts: WriteOptions & FsTreeOptions = {}): Promise<WriteResult> {
  return writeSquashfs(sink, await fsTree(fs, root, opts), opts);
}
