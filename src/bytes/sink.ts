import { lstat, open, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { closeSync, openSync, unlinkSync, writevSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { padding } from './limits.js';
import { shrankError } from './errors.js';
import { crc32FileParts } from './crc32.js';
import type { FileRange } from './payload.js';
import { concat } from './source.js';
import { asSystemError, nativeCodecs } from '../codec/native.js';

/** Ordered byte output that knows its absolute position (offsets in headers are computed from it). */
export interface ByteSink {
  readonly position: number;
  /**
   * Appends the chunks. `position` advances as soon as this is called, so a caller may start the
   * next write before this one settles (the writes land at their own offsets). Takes ownership of
   * the chunks until the promise settles; do not mutate them before that.
   */
  writev(chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * `writev` finished before it returns, on the calling thread (regular files' sinks): for a writer
   * that appends many small chunks one after another, no thread-pool round trip per chunk. Throws
   * what `writev` would reject with; the chunks are free again once it returns.
   */
  writevSync?(chunks: readonly Uint8Array[]): void;
  /**
   * Appends `length` bytes of a file range, copied by the kernel (copy_file_range) without passing
   * through memory; `position` advances at once, as with `writev`. Present on file sinks when the
   * native addon is built. Rejects if the range ends early.
   */
  copyFrom?(range: FileRange, length: number): Promise<void>;
  /**
   * `copyFrom` that resolves to the CRC-32 of the bytes copied: they pass once through a buffer
   * (read, summed, written) on the thread pool, one part per core. Present on file sinks when the
   * addon has libdeflate.
   */
  copyFromCrc?(range: FileRange, length: number): Promise<number>;
  /** Overwrites bytes already written (a header finished last). Sinks that cannot seek leave it out. */
  writeAt?(offset: number, chunks: readonly Uint8Array[]): Promise<void>;
  close(): Promise<void>;
  /** True if the sink keeps no reference to the chunks once a write settles (it copied them out, to a file). */
  readonly copies?: boolean;
  /** True for an output written in place (a device or FIFO): what is written stays even if the command then fails. */
  readonly inPlace?: boolean;
}

/** Release callbacks of chunks whose producer wants their memory back: see `releaseWhenWritten`. */
const releasers = new WeakMap<Uint8Array, () => void>();

/**
 * Asks for `release` to be called once `chunk` has been written: `writeBehind` (and so
 * `pipeInto`) calls it when the write of the chunk settles on a sink that `copies`. A producer
 * uses it to reuse the chunk's memory; a chunk that goes anywhere else is never released and
 * is simply collected. The consumer must not keep the chunk past its write.
 */
export function releaseWhenWritten(chunk: Uint8Array, release: () => void): void {
  releasers.set(chunk, release);
}

function released(chunks: readonly Uint8Array[]): void {
  for (const c of chunks) {
    const r = releasers.get(c);
    if (r) {
      releasers.delete(c);
      r();
    }
  }
}

const ZEROS = new Uint8Array(64 * 1024);

/** Writes zero bytes up to the next multiple of `align`. */
export async function padTo(sink: ByteSink, align: number): Promise<void> {
  await writeZeros(sink, padding(sink.position, align));
}

export async function writeZeros(sink: ByteSink, n: number): Promise<void> {
  const parts: Uint8Array[] = [];
  for (; n > 0; n -= Math.min(n, ZEROS.length)) parts.push(ZEROS.subarray(0, Math.min(n, ZEROS.length)));
  if (parts.length) await sink.writev(parts);
}

export interface WriteBehind {
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /** `sink.copyFrom` (the sink must have it), settled by `flush`: the kernel copies while the caller goes on. */
  copy(range: FileRange, length: number): void;
  flush(): Promise<void>;
}

/** Keeps up to `depth` writes in flight, so that reading, hashing and writing overlap. */
export function writeBehind(sink: ByteSink, depth = 2): WriteBehind {
  const inflight: Promise<void>[] = [];
  const copies: Promise<void>[] = [];
  return {
    async write(chunks) {
      while (inflight.length >= depth) await inflight.shift();
      const p = sink.writev(chunks);
      p.catch(() => {}); // awaited in order below; this only keeps an early failure from going unhandled
      if (sink.copies) void p.then(() => released(chunks), () => {});
      inflight.push(p);
    },
    copy(range, length) {
      const p = sink.copyFrom!(range, length);
      p.catch(() => {});
      copies.push(p);
    },
    async flush() {
      while (inflight.length) await inflight.shift();
      while (copies.length) await copies.shift();
    },
  };
}

/**
 * Copies an async iterable of chunks into the sink, with writes overlapping the next reads;
 * `onChunk` sees every chunk (to hash it) before it is written. Returns the bytes written.
 */
export async function pipeInto(
  sink: ByteSink,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onChunk?: (c: Uint8Array) => void,
): Promise<number> {
  const w = writeBehind(sink);
  let n = 0;
  try {
    for await (const c of chunks) {
      onChunk?.(c);
      await w.write([c]);
      n += c.length;
    }
  } finally {
    await w.flush();
  }
  return n;
}

/** A sink that keeps everything in memory, for tests and `encodeX` functions. */
export interface MemorySink extends ByteSink {
  bytes(): Uint8Array;
}

export function memorySink(): MemorySink {
  const parts: Uint8Array[] = [];
  let position = 0;
  return {
    get position() {
      return position;
    },
    async writev(chunks) {
      for (const c of chunks) {
        parts.push(c);
        position += c.length;
      }
    },
    async writeAt(offset, chunks) {
      const all = concat(parts, position);
      let at = offset;
      for (const c of chunks) {
        if (at + c.length > position) throw new RangeError('writeAt past the end of a memory sink');
        all.set(c, at);
        at += c.length;
      }
      parts.length = 0;
      parts.push(all);
    },
    async close() {},
    bytes: () => concat(parts, position),
  };
}

/** Linux IOV_MAX: the most buffers one writev(2) takes. */
const IOV_MAX = 1024;

/** A sink over an open file handle, writing at increasing positions from `start`. */
export function handleSink(fh: FileHandle, start = 0): ByteSink {
  let position = start;
  const copyRange = nativeCopy();
  const copyCrc = crc32FileParts();
  return {
    get position() {
      return position;
    },
    writev(chunks) {
      const at = position;
      for (const c of chunks) position += c.length;
      return writeAll(fh, at, chunks);
    },
    writevSync(chunks) {
      const at = position;
      for (const c of chunks) position += c.length;
      writeAllSync(fh.fd, at, chunks);
    },
    writeAt: (offset, chunks) => writeAll(fh, offset, chunks),
    ...(copyRange && {
      copyFrom(range: FileRange, length: number) {
        const at = position;
        position += length;
        return copyRange(range, fh.fd, at, length);
      },
    }),
    ...(copyCrc && {
      async copyFromCrc(range: FileRange, length: number) {
        const at = position;
        position += length;
        return withRangeFd(range, (src, name) => copyCrc(src, range.offset, length, name, { fd: fh.fd, at }));
      },
    }),
    close: () => fh.close(),
    copies: true,
  };
}

/**
 * Runs `fn` with a descriptor for `range` and the name errors give it: the range's own, or one
 * opened now, synchronously (so that work `fn` queues on the thread pool starts at once), and
 * closed when `fn` settles.
 */
async function withRangeFd<T>(range: FileRange, fn: (fd: number, name: string) => Promise<T>): Promise<T> {
  if ('fd' in range) return fn(range.fd, 'input');
  const fd = openSync(range.path, 'r');
  try {
    return await fn(fd, range.path);
  } finally {
    closeSync(fd);
  }
}

/** The native kernel copy, when the addon is built (looked up once, by the first file sink). */
let kernelCopy: ((range: FileRange, fd: number, at: number, length: number) => Promise<void>) | undefined | null = null;
function nativeCopy(): typeof kernelCopy {
  if (kernelCopy !== null) return kernelCopy;
  const copy = nativeCodecs()?.copyRangeAsync;
  kernelCopy = copy && (async (range, fd, at, length) => {
    // opened synchronously so the copy is queued now: a caller that goes on to hash the same
    // bytes on this thread would otherwise hold back the open's callback, and the copy, until it is done
    await withRangeFd(range, async (src, name) => {
      const n = await copy(src, range.offset, fd, at, length).catch((e: unknown) => { throw asSystemError(e); });
      if (n !== length) throw shrankError(name);
    });
  });
  return kernelCopy;
}

/** pwritev(2) of all chunks at `at` (null: writev(2) at the file's own position), in batches of IOV_MAX, completing short writes. */
async function writeAll(fh: FileHandle, at: number | null, chunks: readonly Uint8Array[]): Promise<void> {
  for (let i = 0; i < chunks.length; i += IOV_MAX) {
    let batch = chunks.slice(i, i + IOV_MAX).filter((c) => c.length > 0);
    while (batch.length) {
      // null: at the file's own position (a pipe or a device, which cannot seek)
      const { bytesWritten } = await fh.writev(batch, at ?? undefined);
      if (at !== null) at += bytesWritten;
      batch = dropWritten(batch, bytesWritten);
    }
  }
}

/** writeAll on this thread, at `at`. */
function writeAllSync(fd: number, at: number, chunks: readonly Uint8Array[]): void {
  for (let i = 0; i < chunks.length; i += IOV_MAX) {
    let batch = chunks.slice(i, i + IOV_MAX).filter((c) => c.length > 0);
    while (batch.length) {
      const n = writevSync(fd, batch, at);
      at += n;
      batch = dropWritten(batch, n);
    }
  }
}

function dropWritten(batch: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < batch.length && n >= batch[i]!.length) n -= batch[i++]!.length;
  const rest = batch.slice(i);
  if (n > 0 && rest.length) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/** Temporary files not yet renamed into place; removed if the process is interrupted. */
const pending = new Set<string>();
let hooked = false;
function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const p of pending) try { unlinkSync(p); } catch { /* already gone */ }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[sig]));
}

/** An output file written under a temporary name and renamed into place only by `commit()`. */
export interface OutputFile extends ByteSink {
  readonly path: string;
  /** Closes the file and renames it to `path` (an output written in place, `inPlace`, is only closed). */
  commit(): Promise<void>;
  /** Closes and removes the temporary file; `path` is left as it was (an output written in place keeps what it got). */
  abort(): Promise<void>;
}

export interface OutputOptions {
  /** Permission bits of a new file (default 0o644). */
  mode?: number;
  /**
   * The path was named by the user (a command's `-o`): a symbolic link is followed and the file it
   * names is replaced (the link stays), and a device, FIFO or socket it names (/dev/null,
   * /dev/stdout on a pipe or a terminal) is written in place and in order, as mkimage and dumpimage
   * write it; renaming over it would replace the device node itself. Such an output cannot seek
   * (no `writeAt`) and cannot be rolled back: `abort()` only closes it. Without it (files made in
   * an output folder) the path itself is always replaced, whatever is there: nothing is written
   * through a link or into a device planted in the folder.
   */
  named?: boolean;
}

/** Opens `path` for writing: under a temporary name in its folder, renamed into place by `commit()` (and see `named`). */
export async function createOutputFile(path: string, opts: OutputOptions = {}): Promise<OutputFile> {
  if (opts.named) {
    const st = await stat(path).catch(() => undefined); // follows links: /dev/stdout → /proc/self/fd/1 → a pipe
    if (st && !st.isFile() && !st.isDirectory()) return streamOutput(path);
    if (st?.isFile() && (await lstat(path)).isSymbolicLink()) path = await realpath(path);
  }
  const mode = opts.mode ?? 0o644;
  hookSignals();
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  pending.add(tmp);
  const sink = handleSink(fh);
  let open_ = true;
  const close = async () => {
    if (open_) {
      open_ = false;
      await fh.close();
    }
  };
  return {
    path,
    get position() {
      return sink.position;
    },
    writev: (chunks) => sink.writev(chunks),
    writevSync: (chunks) => sink.writevSync!(chunks),
    writeAt: (offset, chunks) => sink.writeAt!(offset, chunks),
    ...(sink.copyFrom && { copyFrom: sink.copyFrom }),
    ...(sink.copyFromCrc && { copyFromCrc: sink.copyFromCrc }),
    close,
    copies: true,
    async commit() {
      await close();
      await rename(tmp, path);
      pending.delete(tmp);
    },
    async abort() {
      await close().catch(() => {});
      await unlink(tmp).catch(() => {});
      pending.delete(tmp);
    },
  };
}

/** A named output that is not a regular file (see OutputOptions.named): one write at a time, in order, at its own position. */
async function streamOutput(path: string): Promise<OutputFile> {
  const fh = await open(path, 'w');
  let position = 0;
  let tail: Promise<void> = Promise.resolve();
  let open_ = true;
  const close = async () => {
    if (open_) {
      open_ = false;
      await tail.catch(() => {});
      await fh.close();
    }
  };
  return {
    path,
    get position() {
      return position;
    },
    writev(chunks) {
      for (const c of chunks) position += c.length;
      // after the writes before it, which then fail this one too when they failed
      return (tail = tail.then(() => writeAll(fh, null, chunks)));
    },
    close,
    copies: true,
    inPlace: true,
    commit: close,
    abort: () => close().catch(() => {}),
  };
}

/**
 * Runs `write` against a temporary output file and renames it to `path` only if `write` succeeds
 * (a named device or FIFO is written in place: see OutputOptions.named).
 */
export async function withOutputFile<T>(path: string, write: (sink: ByteSink) => Promise<T>, opts?: OutputOptions): Promise<T> {
  const out = await createOutputFile(path, opts);
  try {
    const r = await write(out);
    await out.commit();
    return r;
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** Writes bytes to `path` atomically (temporary name, then rename). */
export async function writeFileAtomic(path: string, bytes: Uint8Array, opts?: OutputOptions): Promise<void> {
  await withOutputFile(path, (s) => s.writev([bytes]), opts);
}
