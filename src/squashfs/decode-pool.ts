/**
 * Block decompression on other cores, for reading a whole image (extraction): worker threads, each
 * with the image's codec, as unsquashfs's inflator threads. A block goes over as a transferred
 * buffer and comes back the same way, or is written by the worker straight into an open file. The
 * workers only answer for blocks that decode cleanly; a block that does not is decoded again on the
 * calling thread (Squashfs.decoder), so errors read exactly as they do without a pool.
 *
 * Why not node:zlib's asynchronous calls: each one builds a stream on the main thread (about
 * 50 µs, measured), more than a message to a worker costs, and the other codecs (zstd, lz4, lzo)
 * decode on the calling thread.
 */
import { Worker } from 'node:worker_threads';
import { nativeCodecs, systemErrorFields } from '../codec/native.js';
import type { CompressorOptions } from './compressor.js';
import type { CompressorName } from './layout.js';
import { NATIVE_DECODER } from './meta.js';

/** Decodes blocks somewhere else; see {@link DecodePool}. */
export interface BlockDecoder {
  /** The decoded block, or a rejection (of any kind) when it does not decode. Takes `raw`'s buffer when it covers it. */
  decode(raw: Uint8Array, max: number): Promise<Uint8Array>;
  /**
   * decode of the `length` bytes at `from` of the open file `inFd`, read where the block is
   * decoded; any rejection means: read the block and decode it here, for its error.
   */
  decodeFile?(inFd: number, from: number, length: number, max: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A decoder that can also write a decoded block straight into an open file (extraction). */
export interface BlockWriter extends BlockDecoder {
  /**
   * Decodes a block and writes it to the open file `fd` at `position`, elsewhere than this thread,
   * so that the data never comes back here. Resolves to the bytes written (fewer than `max` for a
   * short block); rejects with a {@link WriteError} when the write fails, else with any error
   * (a block that does not decode, a worker that died): then decode the block here.
   */
  decodeTo(raw: Uint8Array, max: number, fd: number, position: number): Promise<number>;
  /**
   * decodeTo of the `length` bytes at `from` of the open file `inFd`, read where the block is
   * decoded; rejects as decodeTo does, and as a block that does not decode when the read fails.
   */
  decodeFileTo?(inFd: number, from: number, length: number, max: number, fd: number, position: number): Promise<number>;
}

/** The rejection of a write that failed on a decoder thread: the error the write raised there. */
export class WriteError extends Error {
  override readonly name = 'WriteError';
  readonly code: string | undefined;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  constructor(e: { message: string; code?: string; errno?: number; syscall?: string }) {
    super(e.message);
    this.code = e.code;
    this.errno = e.errno;
    this.syscall = e.syscall;
  }
}

interface Job {
  resolve(v: Uint8Array | number): void;
  reject(e: unknown): void;
}

interface Reply {
  id: number;
  /** The decoded block (decode). */
  out?: Uint8Array;
  /** Bytes written (decodeTo). */
  written?: number;
  /** A failed write: the error's own fields, so it reads as it would here. */
  io?: { message: string; code?: string; errno?: number; syscall?: string };
}

/** A worker URL that also runs from TypeScript sources under tsx (tests, benchmarks). */
function startWorker(data: unknown): Worker {
  const url = new URL(import.meta.url.endsWith('.ts') ? './decode-worker.ts' : './decode-worker.js', import.meta.url);
  // one block at a time in flight per worker: a small young generation keeps the isolate small
  const resourceLimits = { maxYoungGenerationSizeMb: 8 };
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: data, resourceLimits });
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data, resourceLimits });
}

export class DecodePool implements BlockWriter {
  readonly #workers: { w: Worker; busy: number }[] = [];
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #failed: unknown;

  constructor(name: CompressorName, options: CompressorOptions, blockSize: number, threads: number) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`Cannot start decoders: ${threads} is not a positive count`);
    for (let i = 0; i < threads; i++) {
      const w = startWorker({ name, options, blockSize });
      const slot = { w, busy: 0 };
      w.on('message', (m: Reply) => {
        slot.busy--;
        const job = this.#jobs.get(m.id)!;
        this.#jobs.delete(m.id);
        if (m.out) job.resolve(m.out);
        else if (m.written !== undefined) job.resolve(m.written);
        else if (m.io) job.reject(new WriteError(m.io));
        else job.reject(new Error('the block did not decode'));
      });
      w.on('error', (e) => this.#fail(e));
      w.on('exit', (code) => {
        if (this.#jobs.size) this.#fail(new Error(`decoder worker exited with code ${code}`));
      });
      this.#workers.push(slot);
    }
  }

  #fail(e: unknown): void {
    this.#failed ??= e;
    for (const j of this.#jobs.values()) j.reject(e);
    this.#jobs.clear();
  }

  decode(raw: Uint8Array, max: number): Promise<Uint8Array> {
    return this.#post(raw, max) as Promise<Uint8Array>;
  }

  /** {@link BlockWriter.decodeTo} on a worker thread. */
  decodeTo(raw: Uint8Array, max: number, fd: number, position: number): Promise<number> {
    return this.#post(raw, max, fd, position) as Promise<number>;
  }

  #post(raw: Uint8Array, max: number, fd?: number, position?: number): Promise<Uint8Array | number> {
    if (this.#failed) return Promise.reject(this.#failed);
    let slot = this.#workers[0]!;
    for (const s of this.#workers) if (s.busy < slot.busy) slot = s;
    slot.busy++;
    const id = this.#next++;
    // a view into a larger buffer (an image in memory) is copied: transferring would take it all
    const own = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : raw.slice();
    return new Promise((resolve, reject) => {
      this.#jobs.set(id, { resolve, reject });
      slot.w.postMessage({ id, raw: own, max, fd, position }, [own.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((s) => s.w.terminate()));
  }
}


/**
 * Blocks decoded on libuv's thread pool by the system's zlib, libzstd or liblzma, or the addon's
 * own lz4 block decoder (the rules of lz4-block.ts: liblz4 takes a match offset of 0, which would
 * copy uninitialised memory into the file), with the file writes in the same job: no worker
 * isolates and no messages. The
 * addon accepts only a block that is exactly one valid stream fitting in `max` (no trailing
 * bytes, not empty), meant to be no more lenient than the JavaScript decoders; whatever it
 * rejects is decoded on the calling thread for its error, as with {@link DecodePool}. Undefined
 * when the addon lacks the image's codec.
 */
export function nativeDecoder(name: CompressorName): BlockWriter | undefined {
  const n = nativeCodecs();
  const id = NATIVE_DECODER[name];
  const decodeAsync = n?.decodeAsync, decodeFileAsync = n?.decodeFileAsync;
  if (!decodeAsync || id === undefined || !((n.decoders ?? 0) & (1 << id))) return undefined;
  const failedWrite = (e: unknown): never => {
    const f = systemErrorFields(e);
    throw f?.syscall === 'write' ? new WriteError(f) : e;
  };
  return {
    decode: (raw, max) => decodeAsync(raw, id, max, -1, 0) as Promise<Uint8Array>,
    decodeTo: (raw, max, fd, position) => (decodeAsync(raw, id, max, fd, position) as Promise<number>).catch(failedWrite),
    ...(decodeFileAsync && {
      decodeFile: (inFd: number, from: number, length: number, max: number) => decodeFileAsync(inFd, from, length, id, max, -1, 0) as Promise<Uint8Array>,
      decodeFileTo: (inFd: number, from: number, length: number, max: number, fd: number, position: number) =>
        (decodeFileAsync(inFd, from, length, id, max, fd, position) as Promise<number>).catch(failedWrite),
    }),
    close: async () => {},
  };
}
