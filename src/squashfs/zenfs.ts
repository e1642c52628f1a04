/**
 * A squashfs image as a read-only `@zenfs/core` file system. Lookups, listings and file data are
 * read on demand through {@link Squashfs}; a read at a position decodes only the blocks it covers.
 *
 * `@zenfs/core` is loaded with a dynamic import the first time a file system is created, so
 * importing this module (and the squashfs index) does not pay for it.
 *
 * Only the asynchronous calls are served (`fs.promises`, callbacks, streams): data blocks are
 * decompressed asynchronously and nothing is preloaded, so the `*Sync` calls fail with ENOTSUP.
 *
 * `@zenfs/core` follows symlinks itself, and 2.7.6 does so with no hop limit (`resolve` in its
 * vfs/async.js): a loop never returns. Following a link of the image whose chain within the image
 * is longer than 40 links, or endless, fails with ELOOP instead (Linux's error and limit); lstat
 * and readlink of the link still work.
 */
import { posix } from 'node:path';
import type { Backend, FileSystem, InodeLike, UsageInfo } from '@zenfs/core';
import { FormatError } from '../bytes/errors.js';
import { bytesAccess, fileAccess, type RandomAccess } from '../bytes/random.js';
import type { DirEntry } from './dir.js';
import { blockListLength, type SquashfsInode } from './inode.js';
import { blockDiskSize, blockIsStored, FORMAT, SQUASHFS_MAGIC } from './layout.js';
import { openSquashfs, Squashfs } from './read.js';

export interface SquashFSOptions {
  /** The image: its bytes, random access to it, or an image opened with `openSquashfs`. */
  data?: Uint8Array | RandomAccess | Squashfs;
  /** A host file holding the image, instead of `data`; `close()` closes it. */
  path?: string;
  /** Where the image starts inside the input (firmware with a squashfs at an offset). Default 0. */
  offset?: number;
  label?: string;
}

/** The mounted image: a `@zenfs/core` FileSystem whose writes fail with EROFS. */
export interface SquashFSFileSystem extends FileSystem {
  readonly image: Squashfs;
  /** Closes the image file when the file system opened it from `path`. */
  close(): Promise<void>;
}

type Zen = typeof import('@zenfs/core');
type Impl = new (image: Squashfs, owned: boolean, label: string | undefined) => SquashFSFileSystem;

let impl: Promise<Impl> | undefined;

/**
 * Opens an image as a file system, ready to mount.
 *
 * @example
 * ```ts
 * import { mount, fs } from '@zenfs/core';
 * mount('/img', await createSquashFS({ path: 'root.sqfs' }));
 * const motd = await fs.promises.readFile('/img/etc/motd', 'utf8');
 * ```
 */
export async function createSquashFS(o: SquashFSOptions): Promise<SquashFSFileSystem> {
  if ((o.data === undefined) === (o.path === undefined)) throw new TypeError('Cannot mount squashfs: give exactly one of data and path');
  const Cls = await (impl ??= import('@zenfs/core').then(define));
  let image: Squashfs;
  if (o.data instanceof Squashfs) {
    if (o.offset !== undefined) throw new TypeError('Cannot mount squashfs: offset applies to bytes or random access, not to an opened image');
    image = o.data;
  } else {
    const ra = o.path !== undefined ? await fileAccess(o.path, FORMAT) : o.data instanceof Uint8Array ? bytesAccess(o.data, FORMAT) : o.data!;
    if (typeof ra.readAt !== 'function' || typeof ra.size !== 'number') throw new TypeError('Cannot mount squashfs: data is neither bytes nor random access');
    try {
      image = await openSquashfs(ra, o.offset === undefined ? {} : { offset: o.offset });
    } catch (e) {
      if (o.path !== undefined) await ra.close?.();
      throw e;
    }
  }
  const fs = new Cls(image, o.path !== undefined, o.label);
  try {
    await fs.stat('/'); // a bad root inode fails the mount, not the first call
  } catch (e) {
    await fs.close();
    throw e;
  }
  return fs;
}

/**
 * The `@zenfs/core` backend: `configure({ mounts: { '/img': { backend: SquashFS, data } } })`.
 *
 * @example
 * ```ts
 * import { configure, fs } from '@zenfs/core';
 * await configure({ mounts: { '/img': { backend: SquashFS, path: 'root.sqfs' } } });
 * for (const name of await fs.promises.readdir('/img/etc')) console.log(name);
 * ```
 */
export const SquashFS: Backend<SquashFSFileSystem, SquashFSOptions> = {
  name: 'SquashFS',
  options: {
    data: { type: 'object', required: false },
    path: { type: 'string', required: false },
    offset: { type: 'number', required: false },
    label: { type: 'string', required: false },
  },
  isAvailable: () => true,
  create: createSquashFS,
};

const td = new TextDecoder();

/** Linux errno numbers of the codes used here (kerium's Errno has the same values). */
const ERRNO = { ENOENT: 2, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ELOOP: 40, ENOTSUP: 95 } as const;

/** Symlinks one lookup may follow before it fails with ELOOP, as on Linux (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/** Decoded data blocks kept per file system: enough for a few readers in the middle of their blocks. */
const BLOCK_CACHE = 16;
/** Path lookups and directory listings kept (each listing costs about 100 bytes per entry). */
const PATH_CACHE = 8192;
const DIR_CACHE = 256;

/** The promise cached under `key`, or a new one from `make`: at most `max` kept (oldest dropped first), failures forgotten. */
function cached<K, V>(m: Map<K, Promise<V>>, key: K, max: number, make: () => Promise<V>): Promise<V> {
  let p = m.get(key);
  if (!p) {
    p = make();
    if (m.size >= max) m.delete(m.keys().next().value!);
    m.set(key, p);
    const mine = p;
    p.catch(() => m.get(key) === mine && m.delete(key));
  }
  return p;
}

/**
 * The VFS rewrites the message of every error passing through it as an errno error's ("CODE:
 * text, syscall path"); a FormatError has no errno, so it keeps its own (the path is still added
 * as a property).
 */
function keepMessage(e: unknown): never {
  if (e instanceof FormatError) {
    const message = e.message;
    Object.defineProperty(e, 'message', { get: () => message, set: () => {}, configurable: true });
  }
  throw e;
}

/**
 * Whether the backend's `read` calling this serves @zenfs/core's readlink fetching a link's target
 * to follow it (readlink awaited by `resolve`, vfs/async.js), rather than a readlink the caller
 * asked for: the calls the backend sees are the same (stat, stat, read), the await chain is not.
 * It is read from V8's async stack trace (on unless node runs with --no-async-stack-traces).
 */
function readingToFollow(): boolean {
  const { stackTraceLimit, prepareStackTrace } = Error;
  const at: { stack?: NodeJS.CallSite[] } = {};
  try {
    Error.stackTraceLimit = 8;
    Error.prepareStackTrace = (_, sites) => sites;
    Error.captureStackTrace(at);
    const sites = at.stack ?? [];
    const i = sites.findIndex((site) => site.getFunctionName() === 'readlink');
    // what awaits readlink is the first async frame after it (the microtask runner may come first)
    return i >= 0 && sites.slice(i + 1).find((site) => site.isAsync())?.getFunctionName() === 'resolve';
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    Error.prepareStackTrace = prepareStackTrace;
  }
}

/** A looked-up inode and its parent directory's, up to the root. */
interface Resolved {
  readonly inode: SquashfsInode;
  readonly up: Resolved | undefined;
}

function define(z: Zen): Impl {
  const errno = (code: keyof typeof ERRNO, message?: string) => new z.ErrnoError(ERRNO[code], message);
  /**
   * ELOOP for following the link at VFS path `at`. The VFS labels what fails this read as an error
   * of its readlink (syscall, message), a call the caller never made: those stay as made here.
   */
  const loop = (at: string) => {
    const e = Object.assign(errno('ELOOP', `ELOOP: too many symbolic links encountered, '${at}'`), { path: at });
    const message = e.message;
    return Object.defineProperties(e, {
      message: { get: () => message, set: () => {}, configurable: true },
      syscall: { get: () => undefined, set: () => {}, configurable: true },
    });
  };

  class SquashFSImpl extends z.Readonly(z.FileSystem) implements SquashFSFileSystem {
    readonly #paths = new Map<string, Promise<Resolved>>();
    readonly #dirs = new Map<string, Promise<Map<string, DirEntry>>>();
    readonly #blocks = new Map<string, Promise<Uint8Array>>();
    readonly #chains = new Map<string, Promise<number>>();
    /** Image offset of each data block of a file, and where its blocks end. */
    readonly #starts = new WeakMap<SquashfsInode, number[]>();

    constructor(
      readonly image: Squashfs,
      readonly owned: boolean,
      label: string | undefined,
    ) {
      super(SQUASHFS_MAGIC, 'squashfs');
      if (label !== undefined) this.label = label;
      this.attributes.set('no_atime');
      this.attributes.set('no_async_preload');
      // the VFS checks this one (not no_write) before truncating or opening a write stream
      (this.attributes as Map<string, unknown>).set('readonly', true);
    }

    async close(): Promise<void> {
      if (this.owned) await this.image.close();
    }

    override usage(): UsageInfo {
      const sb = this.image.superblock;
      return { totalSpace: sb.bytesUsed, freeSpace: 0, blockSize: sb.blockSize, totalNodes: sb.inodes, freeNodes: 0 };
    }

    /** The inode at a path of this file system ("/", "/a/b"); symlinks are not followed. */
    async #lookup(path: string): Promise<SquashfsInode> {
      return (await this.#node(path)).inode;
    }

    #node(path: string): Promise<Resolved> {
      return cached(this.#paths, path, PATH_CACHE, () => this.#resolve(path));
    }

    async #resolve(path: string): Promise<Resolved> {
      const cut = path.lastIndexOf('/');
      const name = path.slice(cut + 1);
      if (cut < 0 || name === '') {
        if (path === '/' || path === '') return { inode: await this.image.root(), up: undefined };
        throw errno('EINVAL', `not a normalized absolute path: ${path}`);
      }
      const parent = await this.#node(cut === 0 ? '/' : path.slice(0, cut));
      if (parent.inode.kind !== 'dir') throw errno('ENOTDIR');
      const e = (await this.#listing(parent.inode)).get(name);
      if (!e) throw errno('ENOENT');
      const inode = await this.image.inode(e.inode);
      const at = this.image.superblock.directoryTableStart;
      if (inode.kind !== e.kind) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read ${path}: the directory entry says ${e.kind}, the inode ${inode.kind}`);
      if (inode.kind === 'dir') {
        // a directory that contains itself would make every walk of the mount endless
        for (let d: Resolved | undefined = parent; d; d = d.up)
          if (d.inode.inodeNumber === inode.inodeNumber || (d.inode.startBlock === inode.startBlock && d.inode.offset === inode.offset && d.inode.size === inode.size))
            throw new FormatError(FORMAT, 'BAD_FIELD', at + inode.startBlock, `Cannot read ${path}: the directory contains itself (a loop)`);
      }
      return { inode, up: parent };
    }

    /**
     * How many symlinks following the link at `path` goes through, this one included: more than
     * MAX_SYMLINKS when they are more or never end; cached. A backend sees no call boundaries, so
     * the limit applies to a link's own chain, walked as @zenfs/core walks it: the target joined
     * to the link's directory and normalized as text (`..` too), absolute targets from the VFS
     * root, through the mount point. The walk stops where the path leaves the image or names
     * nothing; links followed before this one, or in other file systems, are not counted.
     */
    #chain(path: string): Promise<number> {
      const mount = this._mountPoint ?? '/';
      return cached(this.#chains, `${mount}\0${path}`, PATH_CACHE, async () => {
        let hops = 0;
        let parts = path.split('/').filter(Boolean);
        let dir = '/';
        for (let k = 0; k < parts.length && hops <= MAX_SYMLINKS; ) {
          const at = posix.join(dir, parts[k]!);
          const i = await this.#lookup(at).catch(() => undefined);
          if (!i) break;
          if (i.kind !== 'symlink') {
            dir = at;
            k++;
            continue;
          }
          hops++;
          const next = this.#inside(posix.resolve(posix.join(mount, dir), td.decode(i.target!), ...parts.slice(k + 1)), mount);
          if (next === undefined) break;
          parts = next.split('/').filter(Boolean);
          dir = '/';
          k = 0;
        }
        return hops;
      });
    }

    /** A VFS path as a path of this file system mounted at `mount`, or undefined when another one serves it. */
    #inside(path: string, mount: string): string | undefined {
      if (mount !== '/' && path !== mount && !path.startsWith(`${mount}/`)) return undefined;
      for (const other of z.defaultContext.mounts.keys())
        if (other.length > mount.length && (path === other || path.startsWith(`${other}/`))) return undefined;
      return mount === '/' ? path : path.slice(mount.length) || '/';
    }

    /** A directory's entries by name; cached. */
    #listing(dir: SquashfsInode): Promise<Map<string, DirEntry>> {
      return cached(this.#dirs, `${dir.startBlock}:${dir.offset}:${dir.size}`, DIR_CACHE, async () => {
        const m = new Map<string, DirEntry>();
        for (const e of await this.image.readdir(dir)) {
          const n = td.decode(e.name);
          if (!m.has(n)) m.set(n, e); // names that differ only in invalid UTF-8: the first one
        }
        return m;
      });
    }

    override stat(path: string): Promise<InodeLike> {
      return this.#stat(path).catch(keepMessage);
    }

    override readdir(path: string): Promise<string[]> {
      return this.#readdir(path).catch(keepMessage);
    }

    override read(path: string, buffer: Uint8Array, start: number, end: number): Promise<void> {
      const follow = start === 0 && readingToFollow(); // the VFS reads a link's target whole
      return this.#read(path, buffer, start, end, follow).catch(keepMessage);
    }

    async #stat(path: string): Promise<InodeLike> {
      const i = await this.#lookup(path);
      const st = await this.image.stat(i);
      const ms = st.mtime * 1000;
      return {
        ino: st.inodeNumber,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        size: st.size,
        nlink: st.nlink,
        rdev: i.rdev,
        atimeMs: ms,
        mtimeMs: ms,
        ctimeMs: ms,
        birthtimeMs: ms,
        // file data is cached here, per block: the VFS's byte cache would keep whole files while they are open
        flags: i.kind === 'file' ? z.InodeFlags.DAX : 0,
      };
    }

    async #readdir(path: string): Promise<string[]> {
      const i = await this.#lookup(path);
      if (i.kind !== 'dir') throw errno('ENOTDIR');
      return [...(await this.#listing(i)).keys()];
    }

    async #read(path: string, buffer: Uint8Array, start: number, end: number, follow: boolean): Promise<void> {
      const i = await this.#lookup(path);
      switch (i.kind) {
        case 'file':
          return this.#readFile(i, buffer, start, Math.min(end, i.size));
        case 'symlink': // the VFS reads a link's target as its content
          // failing its readlink fails the lookup, at once: the VFS retries a failed lookup once,
          // the long way (parent, then entry), which reads the same link again
          if (follow && (await this.#chain(path)) > MAX_SYMLINKS) throw loop(posix.join(this._mountPoint ?? '/', path));
          buffer.set(i.target!.subarray(start, end));
          return;
        case 'dir':
          throw errno('EISDIR');
        default:
          throw errno('ENODEV', `${i.kind} has no data in an image: ${path}`);
      }
    }

    /** Bytes [start, end) of a file into `out`, decoding only the blocks they lie in. */
    async #readFile(i: SquashfsInode, out: Uint8Array, start: number, end: number): Promise<void> {
      const bs = this.image.superblock.blockSize;
      // a long list stays in the image: its blocks are found from where it was last read
      const starts = i.blockList === undefined ? this.#blockStarts(i) : undefined;
      const count = blockListLength(i);
      for (let pos = start; pos < end; ) {
        const index = Math.floor(pos / bs);
        const base = index * bs;
        const want = Math.min(bs, i.size - base);
        let block: Uint8Array | undefined;
        if (index < count) {
          const b = starts ? { at: starts[index]!, word: i.blocks[index]! } : (await this.image.blockAt(i, index))!;
          if (blockDiskSize(b.word) !== 0) block = await this.#block(b.word, b.at, want);
        } else {
          if (i.fragment === undefined || index !== count)
            throw new FormatError(FORMAT, 'BAD_FIELD', starts?.[starts.length - 1] ?? i.startBlock, `Cannot read file: its blocks hold ${count * bs} of ${i.size} bytes`);
          const frag = await this.image.fragmentBlock(i.fragment);
          if (i.fragmentOffset + want > frag.length)
            throw new FormatError(FORMAT, 'BAD_FIELD', this.image.superblock.inodeTableStart, `Cannot read file tail: ${want} bytes at ${i.fragmentOffset} run past its ${frag.length}-byte fragment block`);
          block = frag.subarray(i.fragmentOffset, i.fragmentOffset + want);
        }
        const stop = Math.min(end, base + want);
        const at = pos - start;
        if (block) out.set(block.subarray(pos - base, stop - base), at);
        else out.fill(0, at, at + stop - pos); // a sparse block
        pos = stop;
      }
    }

    #blockStarts(i: SquashfsInode): number[] {
      let s = this.#starts.get(i);
      if (!s) {
        s = [];
        let pos = i.startBlock;
        for (const w of i.blocks) {
          s.push(pos);
          pos += blockDiskSize(w);
        }
        s.push(pos);
        if (i.blocks.length > Math.ceil(i.size / this.image.superblock.blockSize))
          throw new FormatError(FORMAT, 'BAD_FIELD', i.startBlock, 'Cannot read file: more blocks than its size needs');
        this.#starts.set(i, s);
      }
      return s;
    }

    /** One data block decoded to `want` bytes (short blocks read as zeros after their data, as in the kernel); cached. */
    #block(word: number, pos: number, want: number): Promise<Uint8Array> {
      return cached(this.#blocks, `${pos}:${word}:${want}`, BLOCK_CACHE, async () => {
        const n = blockDiskSize(word);
        const { ra, base, codec } = this.image;
        const raw = await ra.readAt(base + pos, n);
        if (blockIsStored(word) && n > want) throw new FormatError(FORMAT, 'BAD_FIELD', pos, `Cannot read data block: ${n} stored bytes exceed the ${want} expected`);
        const data = blockIsStored(word) ? raw : await codec.decompress(raw, want, pos);
        if (data.length === want) return data;
        const full = new Uint8Array(want);
        full.set(data);
        return full;
      });
    }

    override statSync(): never {
      throw errno('ENOTSUP', 'squashfs serves asynchronous calls only: use fs.promises');
    }
    override readdirSync(): never {
      return this.statSync();
    }
    override readSync(): never {
      return this.statSync();
    }
    override existsSync(): boolean {
      return this.statSync();
    }
  }
  return SquashFSImpl;
}
