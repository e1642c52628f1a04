/**
 * Entries from a file system: a directory walked in sorted order, or a list of paths (as
 * `find | cpio -o`). The rules are GNU cpio's `-o -H newc --reproducible -R 0:0` (2.13–2.15,
 * src/copyout.c), so that `find . | LC_ALL=C sort | cpio …` and `walkTree` give the same bytes:
 * - names: leading `./` stripped, `.` kept; order: as listed (walkTree sorts by path bytes);
 * - ino renumbered from 0 in input order, hard links sharing one number; c_maj:c_min 0:0; rdev kept;
 * - hard links (non-directories with nlink > 1) deferred until the last link of the group is
 *   listed, then written together, data on that last one; groups never completed are written at
 *   the end, newest first, data on the oldest;
 * - symlink data is the target without NUL; directory nlink is 2 (`--ignore-dirnlink`, 2.14+) or
 *   the real count (`dirNlink: 'stat'`, what 2.13's --reproducible writes).
 *
 * Any node:fs/promises-shaped file system works: node's own, or `@zenfs/core`'s `fs.promises`.
 */
import * as syncFs from 'node:fs';
import { posix } from 'node:path';
import type { StreamPayload } from '../bytes/payload.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, U32_MAX } from './layout.js';
import { normalizeName, type CpioItem, type ReadInto, type SyncReader } from './write.js';
import { mapLimit } from '../bytes/map-limit.js';

/** The subset of node:fs/promises the walker uses (also met by `@zenfs/core`'s `fs.promises`). */
export interface FsLike {
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<StatLike>;
  readlink(path: string): Promise<string>;
  readFile(path: string): Promise<Uint8Array>;
}

export interface StatLike {
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  ino: number | bigint;
  dev: number | bigint;
  rdev: number | bigint;
  mtimeMs: number;
}

export interface TreeOptions {
  /** Keep uid/gid from the file system (default: 0:0, as `-R 0:0`). */
  keepOwner?: boolean;
  /** Clamp every mtime to at most this (SOURCE_DATE_EPOCH). */
  clampMtime?: number;
  /** Set every mtime to this (gen_init_cpio -t; nixpkgs touches every file to 1). */
  mtime?: number;
  /** Directory nlink: 2 (GNU cpio >= 2.14 --reproducible, default) or the real count (2.13). */
  dirNlink?: 2 | 'stat';
  /** The file system to read (default node:fs/promises). */
  fs?: FsLike;
}

/** A resolved entry: the item plus what the link grouping needs. */
interface Stated {
  item: CpioItem;
  key: string;
  linkable: boolean;
}

/**
 * node:fs through its synchronous calls: for a tree of small files in the page cache, each
 * promise-based call is several thread-pool round trips (readFile: open, fstat, read, close) and
 * costs more than the work itself; measured 4x slower on /usr subtrees.
 */
const nodeFsLike: FsLike = {
  readdir: async (p) => syncFs.readdirSync(p),
  lstat: async (p) => syncFs.lstatSync(p),
  readlink: async (p) => syncFs.readlinkSync(p),
  readFile: async (p) => {
    const b = syncFs.readFileSync(p);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },
};

/** Linux's major()/minor() of a dev_t (glibc encoding), without int32 shifts. */
export function splitDev(dev: number | bigint): [number, number] {
  if (typeof dev === 'number' && dev >= 0 && dev <= U32_MAX && Number.isInteger(dev)) {
    // the common case without BigInt: bits 8-19 are the major, 0-7 and 20-31 the minor
    return [(dev >>> 8) & 0xfff, ((dev & 0xff) | ((dev >>> 12) & 0xfff00)) >>> 0];
  }
  const d = typeof dev === 'bigint' ? dev : BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return [major, minor];
}

const enc = new TextEncoder();

/** A file's bytes, read when the archive reaches it (small files: one readFile; large: streamed). */
function lazyFile(fs: FsLike, path: string, size: number): StreamPayload & Partial<ReadInto> {
  if (fs === nodeFsLike) return new NodeFile(path, size);
  return {
    size,
    async *chunks() {
      yield await fs.readFile(path);
    },
  };
}

/**
 * A file on node:fs, read synchronously (see nodeFsLike): straight into the writer's batch (no
 * buffer per file, no copy), or streamed in unzeroed buffers. A class: one object per file, no closures.
 */
class NodeFile implements StreamPayload, ReadInto {
  constructor(
    readonly path: string,
    readonly size: number,
  ) {}

  /** Marks a host file for read-ahead (bytes/prefetch.ts). */
  get hostPath(): string {
    return this.path;
  }

  readInto(buf: Uint8Array, at: number): number {
    const fd = syncFs.openSync(this.path, 'r');
    try {
      return readFully(fd, buf, at, this.size, 0);
    } finally {
      syncFs.closeSync(fd);
    }
  }

  openReader(): SyncReader {
    const fd = syncFs.openSync(this.path, 'r');
    return {
      read: (buf, at, length, position) => readFully(fd, buf, at, length, position),
      close: () => syncFs.closeSync(fd),
    };
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    const fd = syncFs.openSync(this.path, 'r');
    try {
      for (let at = 0; ; ) {
        const buf = Buffer.allocUnsafeSlow(Math.min(4 << 20, Math.max(this.size - at, 1)));
        const n = syncFs.readSync(fd, buf, 0, buf.length, at);
        if (n === 0) return;
        at += n;
        yield new Uint8Array(buf.buffer, buf.byteOffset, n);
      }
    } finally {
      syncFs.closeSync(fd);
    }
  }
}

/** Reads up to `length` bytes at `position` into `buf[at]`, fewer only at the end of the file. */
function readFully(fd: number, buf: Uint8Array, at: number, length: number, position: number): number {
  let got = 0;
  for (let n = -1; n !== 0 && got < length; got += n) n = syncFs.readSync(fd, buf, at + got, length - got, position + got);
  return got;
}

/**
 * Entries for paths as `cpio -o` reads them from standard input: in the given order, each
 * resolved against `cwd` (default: the process' directory) with lstat.
 *
 * @example
 * ```ts
 * const items = await pathItems(['.', './init', './bin'], { cwd: 'rootfs' });
 * ```
 */
export async function pathItems(paths: readonly string[], opts: TreeOptions & { cwd?: string } = {}): Promise<CpioItem[]> {
  return itemsOf(paths, opts, new Map());
}

async function itemsOf(paths: readonly string[], opts: TreeOptions & { cwd?: string }, cache: Map<string, StatLike>, fullOf?: (p: string) => string): Promise<CpioItem[]> {
  const fs = opts.fs ?? nodeFsLike;
  const cwd = opts.cwd ?? '.';
  const full = fullOf ?? ((p: string): string => (posix.isAbsolute(p) ? p : posix.join(cwd, p)));
  const isLink = (st: StatLike): boolean => (st.mode & S_IFMT) === S_IFLNK;
  let stated: { st: StatLike; full: string; target: string | undefined }[];
  if (fs === nodeFsLike) {
    // synchronous: no promise per entry (see nodeFsLike)
    stated = paths.map((p) => {
      const f = full(p);
      const st = cache.get(p) ?? syncFs.lstatSync(f);
      return { st, full: f, target: isLink(st) ? syncFs.readlinkSync(f) : undefined };
    });
  } else {
    stated = await mapLimit(paths, 64, async (p) => {
      const f = full(p);
      const st = cache.get(p) ?? (await fs.lstat(f));
      return { st, full: f, target: isLink(st) ? await fs.readlink(f) : undefined };
    });
  }
  const inos = new Map<string, number>();
  const dirNlink2 = (opts.dirNlink ?? 2) === 2;
  const out: Stated[] = [];
  for (let i = 0; i < paths.length; i++) {
    const { full: f, st, target } = stated[i]!;
    const key = `${String(st.dev)}:${String(st.ino)}`;
    let ino = inos.get(key);
    if (ino === undefined) inos.set(key, (ino = inos.size));
    const type = st.mode & S_IFMT;
    const [rdevMajor, rdevMinor] = st.rdev === 0 ? NO_DEV : splitDev(st.rdev);
    let mtime = Math.max(0, Math.min(U32_MAX, Math.floor(st.mtimeMs / 1000)));
    if (opts.mtime !== undefined) mtime = opts.mtime;
    if (opts.clampMtime !== undefined && mtime > opts.clampMtime) mtime = opts.clampMtime;
    const data = type === S_IFREG && st.size > 0 ? lazyFile(fs, f, st.size) : target !== undefined ? enc.encode(target) : undefined;
    const item: CpioItem = {
      name: normalizeName(paths[i]!),
      mode: st.mode,
      ino,
      uid: opts.keepOwner ? st.uid : 0,
      gid: opts.keepOwner ? st.gid : 0,
      nlink: type === S_IFDIR && dirNlink2 ? 2 : st.nlink,
      mtime,
      rdevMajor,
      rdevMinor,
      ...(data && { data }),
    };
    out.push({ item, key, linkable: type !== S_IFDIR && st.nlink > 1 });
  }
  return gnuLinkOrder(out);
}

const NO_DEV: readonly [number, number] = [0, 0];

/**
 * GNU cpio's copy-out order for newc/crc hard links (src/copyout.c: last_link, add_link_defer,
 * writeout_other_defers, writeout_final_defers).
 */
function gnuLinkOrder(list: readonly Stated[]): CpioItem[] {
  const out: CpioItem[] = [];
  let deferred: Stated[] = []; // newest first, as GNU's deferouts list
  const noData = (s: Stated): CpioItem => {
    const { data: _, ...rest } = s.item;
    return rest;
  };
  for (const s of list) {
    if (!s.linkable) {
      out.push(s.item);
      continue;
    }
    const others = deferred.filter((d) => d.key === s.key);
    if (s.item.nlink === others.length + 1) {
      for (const d of others) out.push(noData(d));
      deferred = deferred.filter((d) => d.key !== s.key);
      out.push(s.item);
    } else deferred.unshift(s);
  }
  while (deferred.length) {
    const d = deferred[0]!;
    const count = deferred.filter((x) => x.key === d.key).length;
    out.push(count === 1 ? d.item : noData(d));
    deferred.shift();
  }
  return out;
}

/** Every path under `root`, as `find .` prints them (`.`, `./a`, `./a/b` …), sorted by their bytes. */
export async function listTree(root: string, fs: FsLike = nodeFsLike, cache = new Map<string, StatLike>()): Promise<string[]> {
  const paths: string[] = ['.'];
  let level = ['.'];
  const full = fullPath(root);
  const visit = (dir: string, st: StatLike, names: () => string[]): string[] => {
    cache.set(dir, st);
    if ((st.mode & S_IFMT) !== S_IFDIR) return [];
    return names().map((n) => `${dir}/${n}`);
  };
  while (level.length) {
    let found: string[][];
    if (fs === nodeFsLike) {
      // synchronous: no promise per entry (see nodeFsLike)
      found = level.map((dir) => {
        const f = full(dir);
        return visit(dir, syncFs.lstatSync(f), () => syncFs.readdirSync(f));
      });
    } else {
      found = await mapLimit(level, 64, async (dir) => {
        const f = full(dir);
        const st = await fs.lstat(f);
        const names = (st.mode & S_IFMT) === S_IFDIR ? await fs.readdir(f) : [];
        return visit(dir, st, () => names);
      });
    }
    level = found.flat();
    for (const p of level) paths.push(p);
  }
  return sortByBytes(paths);
}

/** `posix.join(root, p)` for the `./a/b` paths of listTree, without normalizing each one. */
function fullPath(root: string): (p: string) => string {
  const base = posix.join(root, '.');
  const prefix = base === '.' ? '' : base.endsWith('/') ? base : `${base}/`;
  return (p) => (p === '.' ? base : prefix + p.slice(2));
}

/** Sorts by the UTF-8 bytes of each string, as `LC_ALL=C sort`. */
function sortByBytes(paths: string[]): string[] {
  // UTF-16 code unit order is code point order (hence UTF-8 byte order) unless surrogates are involved
  if (!paths.some((p) => /[\ud800-\udfff]/.test(p))) return paths.sort();
  // sort keys encoded once, not per comparison
  const keyed = paths.map((p) => [Buffer.from(p), p] as const);
  keyed.sort((a, b) => Buffer.compare(a[0], b[0]));
  return keyed.map((k) => k[1]);
}

/**
 * The entries of a directory tree, as `cd ROOT && find . | LC_ALL=C sort | cpio -o -H newc
 * --reproducible -R 0:0` archives them (the nixpkgs makeInitrd pipeline), with `.` first.
 *
 * @example
 * ```ts
 * await pipeInto(sink, writeCpio(await walkTree('rootfs', { clampMtime: 1 })));
 * ```
 */
export async function walkTree(root: string, opts: TreeOptions = {}): Promise<CpioItem[]> {
  const fs = opts.fs ?? nodeFsLike;
  const cache = new Map<string, StatLike>();
  return itemsOf(await listTree(root, fs, cache), { ...opts, cwd: root }, cache, fullPath(root));
}
