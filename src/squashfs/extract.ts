/**
 * Extraction to a host folder, as `unsquashfs -d DIR IMG [PATH]`, that never writes outside DIR:
 * names are single path components (the directory decoder rejects "", ".", "..", "/" and NUL),
 * every parent is checked to be a real directory inside DIR (not a symlink planted before
 * extraction) before anything is written into it, and files, links and folders are created
 * exclusively (O_EXCL, no following), replacing whatever was in the way only after a refusal.
 * Device nodes are made only when running as root; sockets cannot be made from Node and are skipped.
 *
 * File data is decoded several blocks at a time on libuv's thread pool by the system's codec (the
 * native addon) or on worker threads, which also write it (as unsquashfs's inflator and writer
 * threads), while this thread makes the next entries; both ends are
 * bounded (files in flight, blocks in flight), so memory stays flat however large the image.
 * Creating entries and setting their metadata are synchronous calls here: each is one short system
 * call, cheaper than a round trip through the thread pool, and made in walk order a folder always
 * exists before anything goes in it.
 */
import { spawn } from 'node:child_process';
import {
  closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, chmodSync, realpathSync, rmSync, symlinkSync, utimesSync, writeSync,
} from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { sep } from 'node:path';
import { DecodePool, nativeDecoder, WriteError, type BlockWriter } from './decode-pool.js';
import { blockDiskSize, blockIsStored, decodeRdev } from './layout.js';
import type { DataBlock, Squashfs } from './read.js';
import type { SquashfsInode } from './inode.js';
import type { Xattr } from './xattr.js';

export interface ExtractOptions {
  /** Only this image path and what is under it (default: everything). */
  path?: string;
  /** Set owners (default: when running as root). */
  owners?: boolean;
  /** Restore xattrs with setfattr (default true). */
  xattrs?: boolean;
  onWarning?: (message: string) => void;
  /**
   * Worker threads that decompress file data (default: one per core, at most 4, when the image
   * holds more than 8 MiB of data; 0: decompress on the calling thread). With the native decoders
   * (below) any count above 0 means libuv's thread pool, whose size is UV_THREADPOOL_SIZE.
   */
  threads?: number;
  /**
   * With threads: decode on libuv's thread pool through the native addon's codecs when it has the
   * image's (default true); false: on worker threads.
   */
  native?: boolean;
}

export interface ExtractResult {
  files: number;
  dirs: number;
  symlinks: number;
  devices: number;
  skipped: number;
}

const isRoot = () => process.getuid?.() === 0;

/** Files whose data is still being decoded or written; the walk waits past this many. */
const FILES_IN_FLIGHT = 64;
/** Data blocks being decoded or waiting to be written, over all files. */
const BLOCKS_IN_FLIGHT = 8;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);

function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', rej);
    c.on('close', (code) => (code === 0 ? res() : rej(new Error(`${cmd} failed: ${err.trim()}`))));
    if (input !== undefined) c.stdin!.end(input);
  });
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** Removes whatever is at `host`, except a real directory when `keepDir`. */
function clear(host: string, keepDir: boolean): void {
  const st = lstatSync(host, { throwIfNoEntry: false });
  if (!st || (keepDir && st.isDirectory())) return;
  rmSync(host, { recursive: true, force: true });
}

/** Runs `make`; when something is in the way (EEXIST), removes it and runs `make` again. */
function replacing<T>(host: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (errno(e) !== 'EEXIST') throw e;
  }
  clear(host, false);
  return make();
}

function writeAll(fd: number, data: Uint8Array, at: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, at + done);
}

/** Counting semaphore for blocks in flight; `give` hands a slot straight to the oldest waiter. */
class Slots {
  readonly #waiting: (() => void)[] = [];
  constructor(private free: number) {}
  tryTake(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }
  take(): Promise<void> | undefined {
    return this.tryTake() ? undefined : new Promise((r) => this.#waiting.push(r));
  }
  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Decodes block `b` of a file and writes it at `at` of the file `fd`: on a decoder thread when
 * there is a pool (the data never comes back here), else here. Resolves to whether it wrote fewer
 * bytes than the block holds (a short block: the rest is a hole).
 */
async function putBlock(fs: Squashfs, pool: BlockWriter | undefined, fd: number, b: DataBlock, at: number): Promise<boolean> {
  if (pool && !blockIsStored(b.word)) {
    const raw = await fs.readRawBlock(b);
    try {
      return (await pool.decodeTo(raw, b.size, fd, at)) < b.size;
    } catch (e) {
      if (e instanceof WriteError) throw e;
      // decoded here, the block reports what is wrong with it (the pool gave `raw` away)
    }
  }
  const data = await fs.readBlock(b);
  writeAll(fd, data, at);
  return false;
}

/**
 * Writes a file's data blocks, keeping up to BLOCKS_IN_FLIGHT of them decoding at once. Waits for
 * a slot only while it holds none, so files never wait on each other in a cycle. Sparse blocks are
 * skipped, not written. Returns whether the file has holes (then its size is set at the end).
 */
async function writeBlocks(fs: Squashfs, pool: BlockWriter | undefined, fd: number, blocks: readonly DataBlock[], slots: Slots): Promise<boolean> {
  const queue: Promise<boolean>[] = []; // blocks started and not finished yet, in order
  const starts: number[] = [];
  let at = 0;
  for (const b of blocks) {
    starts.push(at);
    at += b.size;
  }
  let next = 0;
  const skipHoles = () => {
    while (next < blocks.length && blockDiskSize(blocks[next]!.word) === 0) next++;
  };
  const start = () => {
    const k = next++;
    const p = putBlock(fs, pool, fd, blocks[k]!, starts[k]!);
    p.catch(() => {}); // awaited in turn below; one left behind by an error must not be an unhandled rejection
    queue.push(p);
  };
  let holes = false;
  try {
    for (const b of blocks) {
      if (blockDiskSize(b.word) === 0) {
        holes = true;
        continue;
      }
      if (queue.length === 0) {
        await slots.take();
        skipHoles();
        start();
      }
      for (skipHoles(); next < blocks.length && queue.length < BLOCKS_IN_FLIGHT && slots.tryTake(); skipHoles()) start();
      if (await queue.shift()!) holes = true;
      slots.give();
    }
  } finally {
    // after a failure, the blocks still under way must finish before the file is closed: a decoder
    // thread writing to a closed descriptor could write into whatever file gets its number next
    const left = queue.splice(0);
    await Promise.allSettled(left);
    for (let i = 0; i < left.length; i++) slots.give();
  }
  return holes;
}

/** Extracts the image (or one subtree) into `dir`, creating it if needed. */
export async function extractSquashfs(fs: Squashfs, dir: string, o: ExtractOptions = {}): Promise<ExtractResult> {
  const data = fs.superblock.inodeTableStart - fs.dataStart;
  const threads = o.threads ?? (data > 8 * 2 ** 20 ? Math.min(4, availableParallelism()) : 0);
  if (threads === 0 || fs.decoder) return new Extraction(fs, o, undefined).run(dir);
  // the system's codec on libuv's pool when the native addon has it, else worker threads
  const pool = (o.native !== false ? nativeDecoder(fs.superblock.compression) : undefined) ?? new DecodePool(fs.superblock.compression, fs.compressorOptions ?? {}, fs.superblock.blockSize, threads);
  fs.decoder = pool; // for fragment blocks, which come back here to be cached
  try {
    return await new Extraction(fs, o, pool).run(dir);
  } finally {
    fs.decoder = undefined;
    await pool.close();
  }
}

/**
 * One extraction. Each entry is made synchronously, in walk order ({@link Extraction.visit}); only
 * file data, device nodes and xattrs wait on anything, and a file's data is written in the
 * background while the walk goes on.
 */
class Extraction {
  readonly result: ExtractResult = { files: 0, dirs: 0, symlinks: 0, devices: 0, skipped: 0 };
  readonly owners: boolean;
  readonly warn: (message: string) => void;
  top = '';
  #base = '';
  /**
   * Folders this run made or checked: their children need no further check (every host path is
   * written once, so nothing in this run replaces a checked folder with a link).
   */
  readonly #checked = new Set<string>();
  readonly #linked = new Map<number, string>();
  readonly #dirs: { host: string; inode: SquashfsInode }[] = [];
  readonly #xattrs: string[] = [];
  readonly #slots = new Slots(BLOCKS_IN_FLIGHT);
  #running = 0;
  #wake: (() => void) | undefined;
  #failure: { error: unknown } | undefined;

  constructor(
    readonly fs: Squashfs,
    readonly o: ExtractOptions,
    readonly pool: BlockWriter | undefined,
  ) {
    this.owners = o.owners ?? isRoot();
    this.warn = o.onWarning ?? (() => {});
  }

  async run(dir: string): Promise<ExtractResult> {
    await mkdir(dir, { recursive: true });
    this.top = await realpath(dir);
    this.#base = this.top.endsWith(sep) ? this.top.slice(0, -1) : this.top;
    this.#checked.add(this.top);
    // the folders on the way to a subtree, made one at a time so none can be a planted link
    const prefix = (this.o.path ?? '').split('/').filter((p) => p && p !== '.');
    for (let i = 1; i < prefix.length; i++) {
      const host = this.#host(prefix.slice(0, i));
      this.#checkParent(host);
      this.#makeDir(host);
    }
    try {
      let first = true;
      walk: for await (const chunk of this.fs.walkChunks(this.o.path ?? '/', 256)) {
        for (const { path, inode } of chunk) {
          if (this.#failure) break walk;
          // the walk yields a folder before what is in it: past the first path, only the last part is new
          const parts = first ? path.split('/').slice(1) : [path.slice(path.lastIndexOf('/') + 1)];
          if (!(first && path === '/')) for (const part of parts) if (part === '..' || part === '.' || part === '') throw Object.assign(new Error(`refusing unsafe name in ${path}`), { code: 'EPERM' });
          first = false;
          let uid = 0, gid = 0;
          if (this.owners) {
            const ids = this.fs.idsNow();
            uid = ids?.[inode.uidIndex] ?? (await this.fs.uid(inode));
            gid = ids?.[inode.gidIndex] ?? (await this.fs.gid(inode));
          }
          const wait = this.visit(path, inode, uid, gid);
          if (wait) await wait;
        }
      }
    } catch (e) {
      this.#failure ??= { error: e };
    } finally {
      while (this.#running > 0) await new Promise<void>((r) => (this.#wake = r));
    }
    if (this.#failure) throw this.#failure.error;
    // directories last, deepest first, so adding entries does not change their times
    for (const { host, inode } of this.#dirs.reverse()) {
      if (this.owners) {
        const st = this.fs.statNow(inode) ?? (await this.fs.stat(inode));
        lchownSync(host, st.uid, st.gid);
      }
      chmodSync(host, inode.mode);
      utimesSync(host, inode.mtime, inode.mtime);
    }
    if (this.#xattrs.length) {
      try {
        await run('setfattr', ['-h', '--restore=-'], this.#xattrs.join('\n') + '\n');
      } catch (e) {
        this.warn(`cannot set xattrs: ${(e as Error).message}`);
      }
    }
    return this.result;
  }

  /** Makes the entry at image path `path`; returns what to wait for before the next one, if anything. */
  visit(path: string, inode: SquashfsInode, uid: number, gid: number): Promise<void> | undefined {
    const host = path === '/' ? this.top : sep === '/' ? this.#base + path : this.#host(path.split('/').slice(1));
    if (host !== this.top) this.#checkParent(host);
    if (inode.kind !== 'dir' && inode.nlink > 1) {
      const first = this.#linked.get(inode.inodeNumber);
      if (first) {
        replacing(host, () => linkSync(first, host));
        return;
      }
      this.#linked.set(inode.inodeNumber, host);
    }
    let wait: Promise<void> | undefined;
    switch (inode.kind) {
      case 'dir':
        if (host !== this.top) this.#makeDir(host);
        this.#dirs.push({ host, inode });
        this.result.dirs++;
        break;
      case 'file':
        wait = this.#file(host, inode, uid, gid);
        this.result.files++;
        break;
      case 'symlink':
        replacing(host, () => symlinkSync(Buffer.from(inode.target!) as unknown as string, host));
        this.#finish(host, inode, uid, gid);
        this.result.symlinks++;
        break;
      case 'blockdev':
      case 'chardev':
      case 'fifo': {
        if (inode.kind !== 'fifo' && !isRoot()) {
          this.warn(`${path}: device nodes are extracted only as root, skipped`);
          this.result.skipped++;
          return;
        }
        const { major, minor } = decodeRdev(inode.rdev);
        const args = inode.kind === 'fifo' ? ['-m', '600', host] : ['-m', '600', host, inode.kind === 'blockdev' ? 'b' : 'c', String(major), String(minor)];
        clear(host, false);
        wait = run(inode.kind === 'fifo' ? 'mkfifo' : 'mknod', args).then(() => this.#finish(host, inode, uid, gid));
        if (inode.kind !== 'fifo') this.result.devices++;
        break;
      }
      case 'socket':
        this.warn(`${path}: sockets cannot be created, skipped`);
        this.result.skipped++;
        return;
    }
    if (this.o.xattrs === false || inode.xattr === undefined) return wait;
    const dump = (xs: Xattr[]) => void this.#xattrs.push(`# file: ${escapeName(host)}`, ...xs.map((x) => `${x.name}=0x${Buffer.from(x.value).toString('hex')}`), '');
    return (wait ?? Promise.resolve()).then(() => this.fs.xattrs(inode)).then(dump);
  }

  /** A regular file: made now, its data written now when it is in memory, else in the background. */
  #file(host: string, inode: SquashfsInode, uid: number, gid: number): Promise<void> | undefined {
    const blocks = this.fs.dataBlocks(inode);
    const tail = blocks.length === 0 ? this.fs.tailNow(inode) : undefined;
    const fd = replacing(host, () => openSync(host, CREATE, 0o600));
    if (tail === undefined) return this.#background(this.#writeFile(fd, inode, blocks, uid, gid));
    try {
      writeAll(fd, tail, 0);
      this.#finishFile(fd, inode, false, uid, gid);
    } finally {
      closeSync(fd);
    }
  }

  async #writeFile(fd: number, inode: SquashfsInode, blocks: readonly DataBlock[], uid: number, gid: number): Promise<void> {
    try {
      const holes = blocks.length > 0 && (await writeBlocks(this.fs, this.pool, fd, blocks, this.#slots));
      const tail = this.fs.tailNow(inode) ?? (await this.fs.readTail(inode));
      if (tail.length > 0) writeAll(fd, tail, inode.size - tail.length);
      this.#finishFile(fd, inode, holes, uid, gid);
    } finally {
      closeSync(fd);
    }
  }

  /** Runs `job` in the background; returns what to wait for when FILES_IN_FLIGHT are running. */
  #background(job: Promise<void>): Promise<void> | undefined {
    this.#running++;
    job.then(
      () => this.#settled(),
      (error: unknown) => {
        this.#failure ??= { error };
        this.#settled();
      },
    );
    if (this.#running < FILES_IN_FLIGHT) return;
    return (async () => {
      while (this.#running >= FILES_IN_FLIGHT && !this.#failure) await new Promise<void>((r) => (this.#wake = r));
    })();
  }

  #settled(): void {
    this.#running--;
    this.#wake?.();
  }

  /** Owner, mode and times of a regular file, once its data is written (chown first: it clears setuid). */
  #finishFile(fd: number, inode: SquashfsInode, holes: boolean, uid: number, gid: number): void {
    if (holes) ftruncateSync(fd, inode.size);
    if (this.owners) fchownSync(fd, uid, gid);
    fchmodSync(fd, inode.mode);
    futimesSync(fd, inode.mtime, inode.mtime);
  }

  /** Owner, mode (not of a link) and times of anything but a regular file or a folder, once it is made. */
  #finish(host: string, inode: SquashfsInode, uid: number, gid: number): void {
    if (this.owners) lchownSync(host, uid, gid);
    if (inode.kind !== 'symlink') chmodSync(host, inode.mode);
    lutimesSync(host, inode.mtime, inode.mtime);
  }

  #host(parts: readonly string[]): string {
    return parts.length === 0 ? this.top : this.#base + sep + parts.join(sep);
  }

  /** Refuses a parent that is not a real directory below `top`. */
  #checkParent(host: string): void {
    const parent = host.slice(0, host.lastIndexOf(sep)) || sep;
    if (this.#checked.has(parent)) return;
    const st = lstatSync(parent);
    if (!st.isDirectory() || st.isSymbolicLink()) throw Object.assign(new Error(`refusing to write through ${parent}: not a directory`), { code: 'EPERM' });
    const real = realpathSync.native(parent);
    if (real !== this.top && !real.startsWith(this.top + sep)) throw Object.assign(new Error(`refusing to write outside ${this.top}: ${parent} resolves to ${real}`), { code: 'EPERM' });
    this.#checked.add(parent);
  }

  /** A real directory at `host`: made, or kept when one is there already (anything else is replaced). */
  #makeDir(host: string): void {
    try {
      mkdirSync(host);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      clear(host, true);
      try {
        mkdirSync(host);
      } catch (e2) {
        if (errno(e2) !== 'EEXIST') throw e2;
      }
    }
    this.#checked.add(host);
  }
}

/** getfattr --dump escaping for file names. */
const escapeName = (s: string) => s.replace(/[\\\n\r]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
