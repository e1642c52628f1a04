/**
 * A hash computed on a worker thread, so that SHA-1/SHA-256 of large blobs runs on another core
 * while the main thread copies them. Chunks are copied into a ring of shared slots (a memcpy is
 * several times cheaper than hashing); the worker hashes the slots in order.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Below this many bytes a worker (~20–30 ms to start) costs more than it saves. */
export const PARALLEL_HASH_MIN = 8 << 20;

/**
 * Cores needed before a worker pays. On 2 cores it measured ~60 ms slower for 96 MiB (bench
 * `bootimg`): the threadpool's reads and writes already keep the second core busy while the main
 * thread hashes, so a third party only adds its start-up and the copies into the ring.
 */
export const PARALLEL_HASH_CORES = 4;

const SLOTS = 8;
const SLOT_SIZE = 2 << 20;
// control words: HEAD (slots filled), TAIL (slots hashed), then the byte count of each slot (-1 ends)
const HEAD = 0;
const TAIL = 1;
const LEN = 2;

/** Plain CommonJS, run with `eval`: no file to resolve from dist/ or under tsx, no loader to start. */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { ctrl, data, algo, slots, slotSize } = workerData;
const c = new Int32Array(ctrl);
const d = new Uint8Array(data);
const h = createHash(algo);
for (let tail = 0; ; ) {
  while (Atomics.load(c, ${HEAD}) === tail) Atomics.wait(c, ${HEAD}, tail);
  const s = tail % slots;
  const n = c[${LEN} + s];
  if (n < 0) break;
  h.update(d.subarray(s * slotSize, s * slotSize + n));
  Atomics.store(c, ${TAIL}, ++tail);
  Atomics.notify(c, ${TAIL});
}
parentPort.postMessage(h.digest());
`;

export interface AsyncHash {
  /** Takes a copy of `c` (the caller may reuse it at once); resolves when there was room for it. */
  update(c: Uint8Array): Promise<void>;
  digest(): Promise<Uint8Array>;
  /** Stops the worker (after a failure); harmless after `digest`. */
  close(): void;
}

type WaitAsync = (ta: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<string> | string };

export function workerHash(algo: 'sha1' | 'sha256'): AsyncHash {
  const ctrl = new SharedArrayBuffer(4 * (LEN + SLOTS));
  const data = new SharedArrayBuffer(SLOTS * SLOT_SIZE);
  const c = new Int32Array(ctrl);
  const d = new Uint8Array(data);
  let failure: unknown;
  let result: Uint8Array | undefined;
  let settle: (() => void) | undefined;
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { ctrl, data, algo, slots: SLOTS, slotSize: SLOT_SIZE } });
  const wake = () => {
    Atomics.notify(c, TAIL);
    settle?.();
  };
  worker.once('message', (m: Uint8Array) => ((result = new Uint8Array(m)), settle?.()));
  worker.once('error', (e) => ((failure = e), wake()));
  worker.once('exit', (code) => {
    if (result === undefined && failure === undefined) failure = new Error(`hash worker exited with code ${code}`);
    wake();
  });
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
  let head = 0;
  const room = async () => {
    for (;;) {
      if (failure !== undefined) throw failure;
      const tail = Atomics.load(c, TAIL);
      if (head - tail < SLOTS) return;
      const r = waitAsync(c, TAIL, tail, 1000);
      if (r.async) await r.value;
    }
  };
  const put = (n: number) => {
    c[LEN + (head % SLOTS)] = n;
    Atomics.store(c, HEAD, ++head);
    Atomics.notify(c, HEAD);
  };
  return {
    async update(chunk) {
      for (let at = 0; at < chunk.length; ) {
        await room();
        const n = Math.min(SLOT_SIZE, chunk.length - at);
        d.set(chunk.subarray(at, at + n), (head % SLOTS) * SLOT_SIZE);
        put(n);
        at += n;
      }
    },
    async digest() {
      await room();
      put(-1);
      await new Promise<void>((resolve) => {
        settle = resolve;
        if (result !== undefined || failure !== undefined) resolve();
      });
      if (result === undefined) throw failure;
      return result;
    },
    close() {
      if (result === undefined) void worker.terminate();
    },
  };
}

/** The same interface on the calling thread. */
export function localHash(algo: 'sha1' | 'sha256'): AsyncHash {
  const h = createHash(algo);
  return {
    async update(c) {
      h.update(c);
    },
    async digest() {
      return new Uint8Array(h.digest());
    },
    close() {},
  };
}

/** A hash of `bytes` bytes in all: on a worker when that is large enough to pay for one. */
export function idHash(algo: 'sha1' | 'sha256', bytes: number): AsyncHash {
  return bytes >= PARALLEL_HASH_MIN && availableParallelism() >= PARALLEL_HASH_CORES ? workerHash(algo) : localHash(algo);
}
