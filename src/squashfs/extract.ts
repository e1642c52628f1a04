/**
 * Extraction to a host folder, as `unsquashfs -d DIR IMG [PATH]`, that never writes outside DIR:
 * names are single path components (the directory decoder rejects "", ".", "..", "/" and NUL)
 * and go to the host as the bytes they are (names need not be UTF-8: two that decode alike are
 * still two files),
 * every parent is checked to be a real directory inside DIR (not a symlink planted before
 * extraction) before anything is written into it, and files, links and folders are created
 * exclusively (O_EXCL, no following), replacing whatever was in the way only after a refusal.
 * Device nodes are made only when running as root; sockets cannot be made from Node and are skipped.
 *
 * File data is decoded several blocks at a time on libuv's thread pool by the system's codec (the
 * native addon) or on worker threads, which also write it (as unsquashfs's inflator and writer
 * threads), while this thread makes the next entries; both ends are
 * bounded (files in flight, blocks in flight), so memory stays flat however large the image.
 * Folders are made here, synchronously and in walk order, so a folder always exists before
 * anything goes in it. Files whose data is in memory (a tail, or none) and symlinks are made on
 * the thread pool by the native addon, up to BATCH_ENTRIES to a job (open, write, owner, mode,
 * times, close: one round trip for hundreds of system calls), while this thread walks on, as
 * unsquashfs's writer thread makes them; without the addon they are made here too. Hard-linked
 * entries are always made here: a later name links to the first one, which must exist by then.
 * A run that fails (a corrupt block, a name refused, a full disk) removes what it made where
 * nothing was, once nothing of it is under way any more (see Rollback).
 */
import { spawn } from 'node:child_process';
import {
  closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, mkdtempSync, openSync, chmodSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeSync,
} from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { availableParallelism, constants as osConstants, tmpdir } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { join, sep } from 'node:path';
import { nativeCodecs, systemErrorFields } from '../codec/native.js';
import { DecodePool, nativeDecoder, WriteError, type BlockWriter } from './decode-pool.js';
import { blockDiskSize, blockIsStored, decodeRdev } from './layout.js';
import type { BlockRun, DataBlock, Squashfs, WalkEntry } from './read.js';
import { blockListLength, type SquashfsInode } from './inode.js';
import type { Xattr } from './xattr.js';
import { hostBuffer as b, hostFromBytes as hostName, hostFromText as hostText, hostShown as shown, type HostPath } from '../bytes/names.js';
import { Rollback } from '../bytes/rollback.js';

export interface ExtractOptions {
  /** Only this image path and what is under it (default: everything). */
  path?: string;
  /** Set owners (default: when running as root). */
  owners?: boolean;
  /** Restore xattrs with setfattr (default true). */
  xattrs?: boolean;
  onWarning?: (message: string) => void;
  /**
   * Called as the walk goes: the entries reached so far (every name, hard links included) and the
   * bytes of the files among them. A file's data may still be being written when it is counted.
   */
  onProgress?: (entries: number, bytes: number) => void;
  /**
   * Worker threads that decompress file data (default: one per core, at most 4, when the image
   * holds more than 8 MiB of data; 0: decompress on the calling thread). With the native decoders
   * (below) any count above 0 means libuv's thread pool, whose size is UV_THREADPOOL_SIZE (read
   * when Node starts the pool, before the program's first line; `bin/squashfs extract` sets it to
   * the cores, up to 4, as more threads than cores crowd out the thread that feeds them).
   */
  threads?: number;
  /**
   * With threads: decode on libuv's thread pool through the native addon's codecs when it has the
   * image's (default true); false: on worker threads. Also, files whose data is in memory and
   * symlinks are made on the thread pool by the addon (default true); false: on this thread.
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
/** Block-list entries of the files in flight past which the walk waits too (a few huge sparse files). */
const BLOCKS_HELD = 1 << 22;

/** The data of a file queued before its fragment block is decoded (see Extraction.#afterFragment). */
const NO_BYTES = new Uint8Array(0);
/** Fragment blocks decoded ahead of the one the walk reached (see Extraction.#readAhead). */
const FRAGMENTS_AHEAD = 2;
/** Entries made on the thread pool in one job, and the bytes (headers, paths, data) past which a job starts early. */
const BATCH_ENTRIES = 256;
const BATCH_BYTES = 1 << 20;
/**
 * Jobs of entries under way past which the walk waits. Two: on ext4, more threads making files
 * in the same folders spend more time in the kernel than they save (measured against one and four).
 */
const BATCHES_IN_FLIGHT = 2;
/** makeEntriesAsync's entry header (native/imgkit.c) and its calls, by the names Node's own errors give them. */
const MK_HEADER = 32;
const MK_CALLS = ['', 'open', 'write', 'fchown', 'fchmod', 'futime', 'close', 'symlink', 'lchown', 'lutime'] as const;
const MK_OPEN = 1, MK_SYMLINK = 7;

/** A file whose data is in memory, or a symlink (`data`: its target), to be made on the thread pool. */
interface Pending {
  symlink: boolean;
  host: HostPath;
  data: Uint8Array;
  inode: SquashfsInode;
  uid: number;
  gid: number;
}

/** Node's error for a failed system call `call` of makeEntriesAsync on `host`, as the synchronous fs call would raise it. */
function madeError(err: number, call: number, host: HostPath): Error {
  const f = systemErrorFields({ message: getSystemErrorMap().get(-err)?.[1] ?? 'unknown error', errno: err, syscall: MK_CALLS[call] ?? 'open' })!;
  if (call !== MK_OPEN && call < MK_SYMLINK) return Object.assign(new Error(f.message), f);
  const path = shown(host);
  return Object.assign(new Error(`${f.message} '${path}'`), f, { path });
}

/** Removes the file at `host` if it is there. */
function unlinkQuietly(host: HostPath): void {
  try {
    unlinkSync(b(host));
  } catch {
    // gone already: nothing is left to remove
  }
}

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

// host paths (bytes/names.ts): `b` gives the bytes to the fs calls, `shown` the text for messages

/** The largest xattr value Linux takes (XATTR_SIZE_MAX); also the most one file's set may hold here. */
const XATTR_VALUE_MAX = 65536;

/** Removes whatever is at `host`, except a real directory when `keepDir`. */
function clear(host: HostPath, keepDir: boolean): void {
  const st = lstatSync(b(host), { throwIfNoEntry: false });
  if (!st || (keepDir && st.isDirectory())) return;
  rmSync(b(host), { recursive: true, force: true });
}

/** Runs `make`; when something is in the way (EEXIST), removes it and runs `make` again. */
function replacing<T>(host: HostPath, make: () => T): T {
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
    const image = fs.ra.fd;
    try {
      // from an image file, the pool thread reads the block too
      if (image !== undefined && pool.decodeFileTo) return (await pool.decodeFileTo(image, fs.base + b.at, blockDiskSize(b.word), b.size, fd, at)) < b.size;
      return (await pool.decodeTo(await fs.readRawBlock(b), b.size, fd, at)) < b.size;
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
 * Writes a file's data blocks (checked by `Squashfs.checkDataBlocks`), keeping up to
 * BLOCKS_IN_FLIGHT of them decoding at once. Waits for a slot only while it holds none, so files
 * never wait on each other in a cycle. The blocks are taken from the inode's list as they start,
 * and sparse blocks are skipped, not written: a file that is mostly holes costs a step per hole.
 * Returns whether the file has holes (then its size is set at the end).
 */
async function writeBlocks(fs: Squashfs, pool: BlockWriter | undefined, fd: number, inode: SquashfsInode, slots: Slots): Promise<boolean> {
  const bs = fs.superblock.blockSize;
  const queue: Promise<boolean>[] = []; // blocks started and not finished yet, in order
  let holes = false;
  // the run of the list being taken, the next block in it to start (never a hole) and where it lies in the image
  const runs = fs.blockRuns(inode);
  let run: BlockRun | undefined, k = 0, pos = 0;
  /** Moves past holes to the next block that holds data; false when there is none. */
  const nextData = async (): Promise<boolean> => {
    for (;;) {
      if (run) {
        const words = run.words;
        for (; k < words.length && blockDiskSize(words[k]!) === 0; k++) holes = true;
        if (k < words.length) return true;
      }
      const r = await runs.next();
      if (r.done) return false;
      run = r.value;
      k = 0;
      pos = run.pos;
    }
  };
  const start = () => {
    const word = run!.words[k]!, index = run!.first + k;
    const p = putBlock(fs, pool, fd, { at: pos, word, size: Math.min(bs, inode.size - index * bs) }, index * bs);
    p.catch(() => {}); // awaited in turn below; one left behind by an error must not be an unhandled rejection
    queue.push(p);
    pos += blockDiskSize(word);
    k++;
  };
  try {
    let more = await nextData();
    while (more || queue.length > 0) {
      if (queue.length === 0) {
        await slots.take();
        start();
        more = await nextData();
      }
      while (more && queue.length < BLOCKS_IN_FLIGHT && slots.tryTake()) {
        start();
        more = await nextData();
      }
      if (await queue.shift()!) holes = true;
      slots.give();
    }
  } finally {
    // after a failure, the blocks still under way must finish before the file is closed: a decoder
    // thread writing to a closed descriptor could write into whatever file gets its number next
    const left = queue.splice(0);
    await Promise.allSettled(left);
    for (let i = 0; i < left.length; i++) slots.give();
    await runs.return(undefined);
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
  top: HostPath = '';
  #base: HostPath = '';
  /**
   * Folders this run made or checked: their children need no further check (every host path is
   * written once, so nothing in this run replaces a checked folder with a link).
   */
  readonly #checked = new Set<HostPath>();
  readonly #linked = new Map<number, HostPath>();
  /** A hard-linked file's first name → its other names made so far (removed with it if its data fails). */
  readonly #moreNames = new Map<HostPath, HostPath[]>();
  readonly #dirs: { host: HostPath; inode: SquashfsInode }[] = [];
  /** The folders being walked, outermost first: image path and host path. */
  readonly #open: [string, HostPath][] = [];
  /** The xattrs to restore at the end (`getfattr --dump` text), kept in a temporary file, not in memory. */
  #restore: { dir: string; file: string; fd: number } | undefined;
  /** A folder inside the output folder where nodes with names that are not text are made (removed at the end). */
  #stage: string | undefined;
  #nodes = 0;
  #entries = 0;
  #bytes = 0;
  readonly #slots = new Slots(BLOCKS_IN_FLIGHT);
  #running = 0;
  /** Block-list entries of the files running (what their inodes hold in memory). */
  #held = 0;
  #wake: (() => void) | undefined;
  #failure: { error: unknown } | undefined;
  /** What this run made, removed again if it fails. */
  #rollback: Rollback | undefined;
  /** The addon's makeEntriesAsync, when entries are made on the thread pool. */
  readonly #make: ((ops: Uint8Array, count: number) => Promise<Int32Array>) | undefined;
  /** Entries waiting to be sent to the thread pool, and the bytes they take there. */
  #pending: Pending[] = [];
  #pendingBytes = 0;
  /** Jobs of entries under way. */
  readonly #making = new Set<Promise<void>>();
  /** Fragment blocks being decoded ahead (settled before the run ends: they read the image). */
  readonly #ahead = new Set<Promise<void>>();
  /** Files whose data is all in a fragment block being decoded, by block, in walk order. */
  readonly #waiting = new Map<number, Pending[]>();
  /** The fragment block whose followers were last read ahead. */
  #aheadOf: number | undefined;

  constructor(
    readonly fs: Squashfs,
    readonly o: ExtractOptions,
    readonly pool: BlockWriter | undefined,
  ) {
    this.owners = o.owners ?? isRoot();
    this.warn = o.onWarning ?? (() => {});
    this.#make = o.native !== false ? nativeCodecs()?.makeEntriesAsync : undefined;
  }

  async run(dir: string): Promise<ExtractResult> {
    return Rollback.around(dir, (rollback) => {
      this.#rollback = rollback;
      return this.#run(dir);
    });
  }

  async #run(dir: string): Promise<ExtractResult> {
    this.top = hostText(await realpath(dir));
    this.#base = this.top.endsWith(sep) ? this.top.slice(0, -1) : this.top;
    this.#checked.add(this.top);
    // the folders on the way to a subtree, made one at a time so none can be a planted link
    const prefix = (this.o.path ?? '').split('/').filter((p) => p && p !== '.').map(hostText);
    if (prefix.includes('..')) throw Object.assign(new Error(`refusing unsafe name in ${this.o.path}`), { code: 'EPERM' });
    for (let i = 1; i < prefix.length; i++) {
      const host = this.#host(prefix.slice(0, i));
      this.#checkParent(host);
      this.#makeDir(host);
    }
    try {
      let first = true;
      walk: for await (const chunk of this.fs.walkChunks(this.o.path ?? '/', 256)) {
        for (const entry of chunk) {
          if (this.#failure) break walk;
          const host = first ? (prefix.length ? this.#host(prefix) : this.top) : this.#hostOf(entry);
          first = false;
          const { inode } = entry;
          if (inode.kind === 'dir') this.#open.push([entry.path, host]);
          let uid = 0, gid = 0;
          if (this.owners) {
            const ids = this.fs.idsNow();
            uid = ids?.[inode.uidIndex] ?? (await this.fs.uid(inode));
            gid = ids?.[inode.gidIndex] ?? (await this.fs.gid(inode));
          }
          const wait = this.visit(entry.path, host, inode, uid, gid);
          if (this.o.onProgress) {
            this.#entries++;
            if (inode.kind === 'file') this.#bytes += inode.size;
            this.o.onProgress(this.#entries, this.#bytes);
          }
          if (wait) await wait;
        }
      }
    } catch (e) {
      this.#failure ??= { error: e };
    } finally {
      // files waiting for their tails queue entries too: those go before the last job is sent;
      // after a failure, what the walk reached before it is still made (as it is without the addon)
      while (this.#running > 0) await new Promise<void>((r) => (this.#wake = r));
      try {
        this.#send();
      } catch (e) {
        this.#failure ??= { error: e };
      }
      while (this.#making.size > 0) await Promise.allSettled([...this.#making]);
      while (this.#ahead.size > 0) await Promise.allSettled([...this.#ahead]);
    }
    try {
      if (this.#failure) throw this.#failure.error;
      // directories last, deepest first, so adding entries does not change their times
      for (const { host, inode } of this.#dirs.reverse()) {
        if (this.owners) {
          const st = this.fs.statNow(inode) ?? (await this.fs.stat(inode));
          lchownSync(b(host), st.uid, st.gid);
        }
        chmodSync(b(host), inode.mode);
        utimesSync(b(host), inode.mtime, inode.mtime);
      }
      if (this.#restore) {
        closeSync(this.#restore.fd);
        this.#restore.fd = -1;
        try {
          await run('setfattr', ['-h', `--restore=${this.#restore.file}`]);
        } catch (e) {
          this.warn(`cannot set xattrs: ${(e as Error).message}`);
        }
      }
    } finally {
      if (this.#stage) rmSync(this.#stage, { recursive: true, force: true });
      if (this.#restore) {
        if (this.#restore.fd >= 0) closeSync(this.#restore.fd);
        await rm(this.#restore.dir, { recursive: true, force: true });
      }
    }
    return this.result;
  }

  /**
   * The host path of a walk entry: its folder's (the walk yields a folder, then what is in it,
   * depth first: the innermost open folder with the entry's parent path is its folder) and its
   * name's bytes.
   */
  #hostOf({ path, name }: WalkEntry): HostPath {
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    while (this.#open.length > 0 && this.#open[this.#open.length - 1]![0] !== parent) this.#open.pop();
    const dir = this.#open[this.#open.length - 1];
    const text = hostName(name);
    if (!dir || text === '' || text === '.' || text === '..' || text.includes('/') || text.includes('\0'))
      throw Object.assign(new Error(`refusing unsafe name in ${path}`), { code: 'EPERM' });
    return (dir[1] === sep ? '' : dir[1]) + sep + text;
  }

  /** Makes the entry at image path `path` (host path `host`); returns what to wait for before the next one, if anything. */
  visit(path: string, host: HostPath, inode: SquashfsInode, uid: number, gid: number): Promise<void> | undefined {
    if (host !== this.top) this.#checkParent(host);
    // what is made where nothing was goes again if the run fails (folders: #makeDir)
    if (inode.kind !== 'dir') this.#rollback!.makingFile(host);
    if (inode.kind !== 'dir' && inode.nlink > 1) {
      const first = this.#linked.get(inode.inodeNumber);
      if (first) {
        replacing(host, () => linkSync(b(first), b(host)));
        const more = this.#moreNames.get(first);
        if (more) more.push(host);
        else this.#moreNames.set(first, [host]);
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
        if (inode.target!.length === 0) {
          this.warn(`${path}: a symlink with an empty target cannot be created, skipped`);
          this.result.skipped++;
          return;
        }
        if (inode.target!.includes(0)) throw Object.assign(new Error(`${path}: a symlink target with a NUL byte in it (${JSON.stringify(Buffer.from(inode.target!).toString('latin1'))}) cannot be created`), { code: 'EINVAL' });
        if (this.#make && inode.nlink <= 1) wait = this.#queue({ symlink: true, host, data: inode.target!, inode, uid, gid });
        else this.#symlinkNow(host, inode, uid, gid);
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
        // a command line is text: a path that is not UTF-8 gets its node made under a text name
        // in a folder of our own inside the output folder, then renamed into place
        const direct = Buffer.from(shown(host)).equals(b(host));
        const made = direct ? shown(host) : join(this.#staging(), `node${this.#nodes++}`);
        const args = inode.kind === 'fifo' ? ['-m', '600', made] : ['-m', '600', made, inode.kind === 'blockdev' ? 'b' : 'c', String(major), String(minor)];
        clear(host, false);
        wait = run(inode.kind === 'fifo' ? 'mkfifo' : 'mknod', args).then(() => {
          if (!direct) renameSync(made, b(host));
          this.#finish(host, inode, uid, gid);
        });
        if (inode.kind !== 'fifo') this.result.devices++;
        break;
      }
      case 'socket':
        this.warn(`${path}: sockets cannot be created, skipped`);
        this.result.skipped++;
        return;
    }
    if (this.o.xattrs === false || inode.xattr === undefined) return wait;
    return (wait ?? Promise.resolve()).then(() => this.fs.xattrs(inode)).then((xs) => this.#dump(path, host, xs));
  }

  /**
   * Adds a file's xattrs to what is restored at the end (after every file's data, owner and mode,
   * which would clear security.capability). A set larger than Linux takes for one value is
   * skipped with a warning: no file system stores it, and copies of it must not fill the disk.
   */
  async #dump(path: string, host: HostPath, xs: readonly Xattr[]): Promise<void> {
    if (xs.length === 0) return;
    const size = xs.reduce((n, x) => n + x.name.length + x.value.length, 0);
    if (size > XATTR_VALUE_MAX) {
      this.warn(`${path}: ${size} bytes of xattrs (more than ${XATTR_VALUE_MAX}), not set`);
      return;
    }
    if (!this.#restore) {
      const dir = await mkdtemp(join(tmpdir(), 'imgkit-xattrs-'));
      const file = join(dir, 'restore');
      this.#restore = { dir, file, fd: openSync(file, CREATE, 0o600) };
    }
    // names are quoted as getfattr quotes them (setfattr takes them back): a newline or '=' in a name from
    // the image must not start another line or end the name early
    const text = [`# file: ${escapeName(host)}`, ...xs.map((x) => `${escapeXattrName(x.name)}=0x${Buffer.from(x.value).toString('hex')}`), '', ''].join('\n');
    const bytes = Buffer.from(text, 'latin1');
    for (let done = 0; done < bytes.length; ) done += writeSync(this.#restore.fd, bytes, done, bytes.length - done);
  }

  /**
   * A regular file: when its data is in memory, made on the thread pool (or now); else made now
   * and its data written in the background.
   */
  #file(host: string, inode: SquashfsInode, uid: number, gid: number): Promise<void> | undefined {
    this.fs.checkDataBlocks(inode);
    const tailOnly = blockListLength(inode) === 0;
    const tail = tailOnly ? this.fs.tailNow(inode) : undefined;
    if (tailOnly && this.#make && inode.nlink <= 1) {
      if (tail !== undefined) return this.#queue({ symlink: false, host, data: tail, inode, uid, gid });
      // its fragment block is being decoded (or not yet): queued once it is
      return this.#afterFragment(inode.fragment!, { symlink: false, host, data: NO_BYTES, inode, uid, gid });
    }
    if (tail !== undefined) return this.#fileNow(host, tail, inode, uid, gid);
    const fd = replacing(host, () => openSync(b(host), CREATE, 0o600));
    // the file's own tail is asked for (in writeFile's first step) before the blocks after it
    const wait = this.#background(this.#writeFile(host, fd, inode, uid, gid), inode.blocks.length);
    if (tailOnly) this.#readAhead(inode.fragment);
    return wait;
  }

  /**
   * Starts decoding the FRAGMENTS_AHEAD fragment blocks after `fragment`: files take their tails
   * from the blocks mostly in walk order, and the walk waits on a block it reaches undecoded
   * while the decoders have little else to do. A block that fails here is read again, for its
   * error, by the first file that needs it. Not with a cache too small to keep the blocks ahead
   * until they are reached.
   */
  #readAhead(fragment: number | undefined): void {
    // the files of one fragment block mostly follow each other: the blocks after it are asked for once
    if (fragment === undefined || fragment === this.#aheadOf || this.fs.fragmentCacheBlocks < 4 * FRAGMENTS_AHEAD) return;
    this.#aheadOf = fragment;
    for (let k = fragment + 1; k <= fragment + FRAGMENTS_AHEAD && k < this.fs.superblock.fragments; k++) {
      const p: Promise<void> = this.fs
        .fragmentBlock(k)
        .then(() => {}, () => {})
        .finally(() => this.#ahead.delete(p));
      this.#ahead.add(p);
    }
  }

  /** A file holding `data`, made here; removed again if it cannot be written whole. */
  #fileNow(host: HostPath, data: Uint8Array, inode: SquashfsInode, uid: number, gid: number): undefined {
    const fd = replacing(host, () => openSync(b(host), CREATE, 0o600));
    let done = false;
    try {
      writeAll(fd, data, 0);
      this.#finishFile(fd, inode, false, uid, gid);
      done = true;
    } finally {
      closeSync(fd);
      if (!done) unlinkQuietly(host);
    }
  }

  /** A symlink, made here. */
  #symlinkNow(host: HostPath, inode: SquashfsInode, uid: number, gid: number): void {
    replacing(host, () => symlinkSync(Buffer.from(inode.target!), b(host)));
    try {
      this.#finish(host, inode, uid, gid);
    } catch (e) {
      unlinkQuietly(host); // made, but not as the image has it
      throw e;
    }
  }

  /** Adds an entry for the thread pool; returns what to wait for when it sent a job and BATCHES_IN_FLIGHT are under way. */
  #queue(p: Pending): Promise<void> | undefined {
    this.#pending.push(p);
    this.#pendingBytes += MK_HEADER + p.host.length + 1 + p.data.length; // a host path holds one byte per character
    if (this.#pending.length < BATCH_ENTRIES && this.#pendingBytes < BATCH_BYTES) return;
    this.#send();
    if (this.#making.size < BATCHES_IN_FLIGHT) return;
    return Promise.race(this.#making);
  }

  /** Sends the entries waiting to the thread pool, packed as makeEntriesAsync takes them. */
  #send(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    const ops = Buffer.allocUnsafe(this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    let at = 0;
    for (const p of batch) {
      ops[at] = p.symlink ? 1 : 0;
      ops[at + 1] = this.owners ? 1 : 0;
      ops.writeUInt16LE(0, at + 2);
      ops.writeUInt32LE(p.inode.mode & 0o7777, at + 4);
      ops.writeUInt32LE(p.uid, at + 8);
      ops.writeUInt32LE(p.gid, at + 12);
      ops.writeDoubleLE(p.inode.mtime, at + 16);
      ops.writeUInt32LE(p.host.length + 1, at + 24);
      ops.writeUInt32LE(p.data.length, at + 28);
      at += MK_HEADER + ops.write(p.host, at + MK_HEADER, 'latin1');
      ops[at++] = 0;
      ops.set(p.data, at);
      at += p.data.length;
    }
    let made: Promise<Int32Array>;
    try {
      made = this.#make!(ops, batch.length);
    } catch (error) {
      this.#failure ??= { error };
      return;
    }
    const job: Promise<void> = made
      .then((res) => this.#made(batch, res))
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => this.#making.delete(job));
    this.#making.add(job);
  }

  /**
   * Takes a job's outcome: an entry that found something in its way (EEXIST) is made again here,
   * where `replacing` removes what is in the way; any other failure fails the extraction.
   */
  #made(batch: readonly Pending[], res: Int32Array): void {
    for (let i = 0; i < batch.length; i++) {
      const err = res[2 * i]!, call = res[2 * i + 1]!;
      if (err === 0) continue;
      const p = batch[i]!;
      if (err !== osConstants.errno.EEXIST || (call !== MK_OPEN && call !== MK_SYMLINK)) {
        this.#failure ??= { error: madeError(err, call, p.host) };
        continue;
      }
      try {
        if (p.symlink) this.#symlinkNow(p.host, p.inode, p.uid, p.gid);
        else this.#fileNow(p.host, p.data, p.inode, p.uid, p.gid);
      } catch (error) {
        this.#failure ??= { error };
      }
    }
  }

  /** Writes a file's data; a file whose data could not be read or written is removed, not left part-written. */
  async #writeFile(host: HostPath, fd: number, inode: SquashfsInode, uid: number, gid: number): Promise<void> {
    let done = false;
    try {
      const holes = blockListLength(inode) > 0 && (await writeBlocks(this.fs, this.pool, fd, inode, this.#slots));
      const tail = this.fs.tailNow(inode) ?? (await this.fs.readTail(inode));
      if (tail.length > 0) writeAll(fd, tail, inode.size - tail.length);
      this.#finishFile(fd, inode, holes, uid, gid);
      done = true;
    } finally {
      closeSync(fd);
      if (!done) {
        // every name of the file goes, hard links made while its data was being written too
        for (const name of [host, ...(this.#moreNames.get(host) ?? [])]) unlinkQuietly(name);
      }
    }
  }

  /**
   * Queues `p`, a file whose data is all in fragment block `fragment`, once that block is decoded.
   * The files waiting on one block are one job, each counted as running.
   */
  #afterFragment(fragment: number, p: Pending): Promise<void> | undefined {
    let group = this.#waiting.get(fragment);
    if (group === undefined) {
      const files: Pending[] = (group = []);
      this.#waiting.set(fragment, files);
      const job = this.fs.fragmentBlock(fragment).then(
        (block) => {
          this.#waiting.delete(fragment);
          for (const f of files) {
            f.data = this.fs.tailOf(f.inode, block);
            void this.#queue(f);
          }
        },
        (error: unknown) => {
          this.#waiting.delete(fragment);
          throw error;
        },
      );
      this.#track(job, () => files.length, 0);
      this.#readAhead(fragment);
    }
    group.push(p);
    this.#running++;
    return this.#busy();
  }

  /**
   * Runs `job` (for a file of `blocks` blocks) in the background; returns what to wait for when
   * FILES_IN_FLIGHT are running, or when the block lists of those running pass BLOCKS_HELD.
   */
  #background(job: Promise<void>, blocks: number): Promise<void> | undefined {
    this.#running++;
    this.#track(job, () => 1, blocks);
    return this.#busy();
  }

  /** Counts `blocks` held until `job` settles; then the `files()` it was counted as running end. */
  #track(job: Promise<void>, files: () => number, blocks: number): void {
    this.#held += blocks;
    const settled = () => {
      this.#running -= files();
      this.#held -= blocks;
      this.#wake?.();
    };
    job.then(settled, (error: unknown) => {
      this.#failure ??= { error };
      settled();
    });
  }

  /** What the walk waits for while it has too much in flight; undefined when it need not wait. */
  #busy(): Promise<void> | undefined {
    const busy = () => this.#running >= FILES_IN_FLIGHT || this.#held > BLOCKS_HELD;
    if (!busy()) return;
    return (async () => {
      while (busy() && !this.#failure) await new Promise<void>((r) => (this.#wake = r));
    })();
  }

  /** Owner, mode and times of a regular file, once its data is written (chown first: it clears setuid). */
  #finishFile(fd: number, inode: SquashfsInode, holes: boolean, uid: number, gid: number): void {
    if (holes) ftruncateSync(fd, inode.size);
    if (this.owners) fchownSync(fd, uid, gid);
    fchmodSync(fd, inode.mode);
    futimesSync(fd, inode.mtime, inode.mtime);
  }

  /** Owner, mode (not of a link) and times of anything but a regular file or a folder, once it is made. */
  #finish(host: HostPath, inode: SquashfsInode, uid: number, gid: number): void {
    if (this.owners) lchownSync(b(host), uid, gid);
    if (inode.kind !== 'symlink') chmodSync(b(host), inode.mode);
    lutimesSync(b(host), inode.mtime, inode.mtime);
  }

  #staging(): string {
    return (this.#stage ??= mkdtempSync(join(shown(this.top), '.imgkit-nodes-')));
  }

  #host(parts: readonly HostPath[]): HostPath {
    return parts.length === 0 ? this.top : this.#base + sep + parts.join(sep);
  }

  /** Refuses a parent that is not a real directory below `top`. */
  #checkParent(host: HostPath): void {
    const parent = host.slice(0, host.lastIndexOf(sep)) || sep;
    if (this.#checked.has(parent)) return;
    const st = lstatSync(b(parent));
    if (!st.isDirectory() || st.isSymbolicLink()) throw Object.assign(new Error(`refusing to write through ${shown(parent)}: not a directory`), { code: 'EPERM' });
    const real = realpathSync.native(b(parent), { encoding: 'buffer' }).toString('latin1');
    if (real !== this.top && !real.startsWith(this.top + sep)) throw Object.assign(new Error(`refusing to write outside ${shown(this.top)}: ${shown(parent)} resolves to ${shown(real)}`), { code: 'EPERM' });
    this.#checked.add(parent);
  }

  /** A real directory at `host`: made, or kept when one is there already (anything else is replaced). */
  #makeDir(host: HostPath): void {
    try {
      mkdirSync(b(host));
      this.#rollback!.made(host, true);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      clear(host, true);
      try {
        mkdirSync(b(host)); // in place of what was there: not recorded (what goes in it is, entry by entry)
      } catch (e2) {
        if (errno(e2) !== 'EEXIST') throw e2;
      }
    }
    this.#checked.add(host);
  }
}

/** getfattr --dump escaping for file names (a byte string): backslash, line ends and every byte past ASCII as \ooo. */
const escapeName = (s: HostPath) => s.replace(/[\\\n\r\x80-\xff]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
/** An xattr name for `setfattr --restore`: its UTF-8 bytes, with backslash, '=', control characters and bytes past ASCII as octal escapes. */
const escapeXattrName = (name: string) =>
  Buffer.from(name, 'utf8').toString('latin1').replace(/[\\=\x00-\x1f\x7f-\xff]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
