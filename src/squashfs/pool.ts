/**
 * Block compression on several cores: a pool of worker threads, each with its own codec
 * (mksquashfs's deflator threads). The pool only compresses; the order blocks are written in is
 * the caller's, so the image does not depend on the number of workers. `processors: 0` compresses
 * on the calling thread (small images, where starting workers costs more than it saves).
 */
import { Worker } from 'node:worker_threads';
import { blockCodec, type BlockCodec, type CompressorOptions } from './compressor.js';
import type { CompressorName } from './layout.js';
import { claimCompressSlots } from '../codec/native.js';

export interface Compressor {
  /**
   * The compressed bytes, or `block` itself when compression does not make it smaller, plus
   * `block` again so that its buffer can be reused. Takes ownership of `block`'s whole buffer
   * until the promise settles; `block` must start at offset 0 of its buffer.
   */
  compress(block: Uint8Array, into?: Uint8Array): Promise<Compressed>;
  close(): Promise<void>;
  /** True when it compresses on the addon's compression workers (claimCompressSlots). */
  readonly workers?: boolean;
}

export interface Compressed {
  bytes: Uint8Array;
  compressed: boolean;
  block: Uint8Array;
}

interface Job {
  resolve(v: Compressed): void;
  reject(e: Error): void;
}

/** A compressor's JavaScript heap holds one block at a time: a small young generation keeps its footprint down. */
const LIMITS = { maxYoungGenerationSizeMb: 4 };

/** A worker URL that also runs from TypeScript sources under tsx (tests, benchmarks). */
function startWorker(data: unknown): Worker {
  const url = new URL(import.meta.url.endsWith('.ts') ? './pool-worker.ts' : './pool-worker.js', import.meta.url);
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: data, resourceLimits: LIMITS });
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data, resourceLimits: LIMITS });
}

export class CompressPool implements Compressor {
  readonly #workers: { w: Worker; busy: number }[] = [];
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #failed: Error | undefined;

  constructor(name: CompressorName, options: CompressorOptions, blockSize: number, processors: number) {
    if (!Number.isInteger(processors) || processors < 1) throw new RangeError(`Cannot start compressors: ${processors} is not a positive count`);
    for (let i = 0; i < processors; i++) {
      const w = startWorker({ name, options, blockSize });
      const slot = { w, busy: 0 };
      w.on('message', (m: { id: number; out: Uint8Array; compressed: boolean; block?: Uint8Array; error?: string }) => {
        slot.busy--;
        const job = this.#jobs.get(m.id)!;
        this.#jobs.delete(m.id);
        if (m.error !== undefined) job.reject(new Error(`compressor worker: ${m.error}`));
        else job.resolve({ bytes: m.out, compressed: m.compressed, block: m.block ?? m.out });
      });
      w.on('error', (e) => this.#fail(e));
      w.on('exit', (code) => {
        if (this.#jobs.size) this.#fail(new Error(`compressor worker exited with code ${code}`));
      });
      this.#workers.push(slot);
    }
  }

  #fail(e: Error): void {
    this.#failed ??= e;
    for (const j of this.#jobs.values()) j.reject(e);
    this.#jobs.clear();
  }

  compress(block: Uint8Array): Promise<Compressed> {
    if (this.#failed) return Promise.reject(this.#failed);
    let slot = this.#workers[0]!;
    for (const s of this.#workers) if (s.busy < slot.busy) slot = s;
    slot.busy++;
    const id = this.#next++;
    const own = block.byteOffset === 0 ? block : block.slice();
    return new Promise((resolve, reject) => {
      this.#jobs.set(id, { resolve, reject });
      slot.w.postMessage({ id, block: own }, [own.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((s) => s.w.terminate()));
  }
}

/**
 * Runs the codec from the calling thread, at most `limit` blocks at a time. The addon's codecs
 * compress on its own worker threads, node:zlib and lzma-native on libuv's thread pool, so this is
 * parallel without the memory of a JavaScript isolate per worker; WebAssembly zstd and JavaScript
 * lz4 need {@link CompressPool} to use more than one core. `onClose` runs once, at close().
 */
export function inlineCompressor(codec: BlockCodec, limit = Infinity, onClose?: () => void): Compressor {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    compress: async (b, into) => {
      if (running >= limit) await new Promise<void>((r) => waiting.push(r));
      running++;
      try {
        const c = await codec.compress(b, into);
        return c ? { bytes: c, compressed: true, block: b } : { bytes: b, compressed: false, block: b };
      } finally {
        running--;
        waiting.shift()?.();
      }
    },
    close: async () => onClose?.(),
  };
}

/**
 * The compressor for `processors` threads: 0 runs on the calling thread with no limit (the
 * writer's window bounds it), the addon's codecs run on `processors` of its compression workers,
 * node:zlib and lzma-native on libuv's pool, the others get a pool of `processors` worker threads.
 */
export function compressorFor(name: CompressorName, options: CompressorOptions, blockSize: number, processors: number): Compressor {
  const codec = () => blockCodec(name, options, blockSize);
  if (processors === 0) return inlineCompressor(codec());
  // The addon's codecs (zlib, libzstd, liblz4, liblzma, libdeflate) run on its compression
  // workers, `processors` of them (claimCompressSlots), each going from one block to the next
  // queued on its own core as mksquashfs's compressor threads do; two blocks more than workers in
  // flight keep that queue from running dry while this thread reads files between blocks. Real
  // tree, 2 cores: idle CPU ~4.5 → ~0.1 core-second; zstd 21.9 → 18.4 s (mksquashfs 17.8 s), gzip
  // 22.5 → 21.7 s, -Xlibdeflate 11.0 → 10.3 s. Blocks queued beyond the workers hold no encoder yet.
  // Without the addon: node:zlib and lzma-native on libuv's pool, one block more than threads in
  // flight (real-file tree, 2 cores, gzip: 24 → 21–22 s), but not where a job holds much memory:
  // an xz encoder with a 1 MiB dictionary holds ~13 MB.
  const threaded = blockCodec(name, options, blockSize, true);
  if (threaded.offThread) {
    const release = threaded.gated && claimCompressSlots(processors);
    if (release) return { ...inlineCompressor(threaded, processors + 2, release), workers: true };
    const small = name === 'gzip' || name === 'lz4' || (options.dictSize ?? blockSize) <= 256 << 10;
    return inlineCompressor(threaded, small ? processors + 1 : processors);
  }
  return new CompressPool(name, options, blockSize, processors);
}
