/**
 * A payload is the bytes of one blob of an image (a kernel, a ramdisk …): in memory, or streamed
 * from a file or another image on demand, so writers can copy large blobs in bounded memory.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { crc32, crc32Combine } from './crc32.js';
import { FormatError, shrankError } from './errors.js';
import { rangeChunks, type RandomAccess } from './random.js';
import { pipeInto, releaseWhenWritten, type ByteSink } from './sink.js';

export interface StreamPayload {
  readonly size: number;
  /** The bytes, in order; may be called more than once. */
  chunks(): AsyncIterable<Uint8Array>;
  /** `length` bytes from `offset` (within the payload), where the source can seek: a header without reading the rest. */
  readAt?(offset: number, length: number): Promise<Uint8Array>;
  /** Where the bytes lie in a file (`size` bytes from `offset`): a file sink can then have the kernel copy them (`ByteSink.copyFrom`). */
  readonly file?: FileRange;
}

/** Bytes of a file from `offset`: named by `path`, or by a descriptor that stays open while the payload is used. */
export type FileRange = { readonly path: string; readonly offset: number } | { readonly fd: number; readonly offset: number };

export type Payload = Uint8Array | StreamPayload;

export const EMPTY: Uint8Array = new Uint8Array(0);

export function payloadSize(p: Payload | undefined): number {
  return p === undefined ? 0 : p instanceof Uint8Array ? p.length : p.size;
}

export async function* payloadChunks(p: Payload | undefined): AsyncGenerator<Uint8Array> {
  if (p === undefined) return;
  if (p instanceof Uint8Array) {
    if (p.length) yield p;
    return;
  }
  yield* p.chunks();
}

/** Read size for streamed payloads: large enough that per-read overhead vanishes, small enough to stay in cache while it is hashed and written (1 MiB measured faster than 2, 4 and 8). */
const CHUNK = 1 << 20;

/**
 * A file's bytes as a payload. The size is taken now; a file that changes size before it is
 * read fails with an error rather than producing an inconsistent image. Anything but a regular
 * file (a FIFO, a device) is refused.
 */
export async function filePayload(path: string): Promise<StreamPayload> {
  // O_NONBLOCK: a FIFO with no writer is refused below instead of blocking the open
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path}: not a regular file`), { code: 'EINVAL' });
    size = st.size;
  } finally {
    await fh.close();
  }
  return {
    size,
    file: { path, offset: 0 },
    async *chunks() {
      const h = await open(path, 'r');
      // buffers written out to a file come back here (releaseWhenWritten): fresh memory costs a page fault per page
      const pool: Uint8Array[] = [];
      const read = async (at: number): Promise<Uint8Array> => {
        const n = Math.min(CHUNK, size - at);
        const mem = (n === CHUNK && pool.pop()) || new Uint8Array(n);
        const buf = mem.subarray(0, n);
        for (let got = 0; got < buf.length; ) {
          const { bytesRead } = await h.read(buf, got, buf.length - got, at + got);
          if (bytesRead === 0) throw shrankError(path);
          got += bytesRead;
        }
        if (n === CHUNK) releaseWhenWritten(buf, () => pool.push(mem));
        return buf;
      };
      // one read ahead: the next chunk is on its way while the caller uses this one
      let next = size > 0 ? read(0) : undefined;
      try {
        let at = 0;
        while (next) {
          const c = await next;
          at += c.length;
          next = at < size ? read(at) : undefined;
          yield c;
        }
      } finally {
        await next?.catch(() => {});
        await h.close();
      }
    },
  };
}

/** `size` bytes of a random-access input from `offset`, as a payload. */
export function rangePayload(ra: RandomAccess, offset: number, size: number, format = 'input'): StreamPayload {
  if (offset + size > ra.size)
    throw new FormatError(format, 'TRUNCATED', offset, `Cannot read ${size} bytes: the input ends at 0x${ra.size.toString(16)}`);
  return {
    size,
    chunks: () => (ra.readIntoSync ? pooledChunks(ra, offset, size) : rangeChunks(ra, offset, size, CHUNK)),
    readAt: (at, n) => ra.readAt(offset + at, Math.max(0, Math.min(n, size - at))),
    ...(ra.fd !== undefined && { file: { fd: ra.fd, offset } }),
  };
}

/**
 * The `size` bytes of a file range, read synchronously into one reused buffer: each chunk is valid
 * only until the next is asked for. For a pass that only looks at bytes (a hash) while something
 * else copies them; no fresh memory per chunk to fault in.
 */
export function* transientChunks(range: FileRange, size: number): Generator<Uint8Array> {
  const fd = 'fd' in range ? range.fd : openSync(range.path, 'r');
  try {
    const buf = new Uint8Array(Math.min(size, CHUNK));
    for (let at = 0; at < size; ) {
      const c = buf.subarray(0, Math.min(buf.length, size - at));
      for (let got = 0; got < c.length; ) {
        const n = readSync(fd, c, got, c.length - got, range.offset + at + got);
        if (n === 0) throw shrankError('path' in range ? range.path : 'input');
        got += n;
      }
      at += c.length;
      yield c;
    }
  } finally {
    if (!('fd' in range)) closeSync(fd);
  }
}

/**
 * Synchronous reads into 1 MiB buffers that come back for reuse once a file sink has written
 * them (releaseWhenWritten), as filePayload does: no page faults on fresh memory per chunk.
 */
async function* pooledChunks(ra: RandomAccess, offset: number, size: number): AsyncGenerator<Uint8Array> {
  const pool: Uint8Array[] = [];
  // a consumer that does not write to a file never releases: past a few chunks out, stop pooling
  // (each registration lives until a full collection, and 1 GiB of them would set the peak RSS)
  let out = 0;
  for (let at = 0; at < size; ) {
    const n = Math.min(CHUNK, size - at);
    const mem = (n === CHUNK && pool.pop()) || new Uint8Array(n);
    ra.readIntoSync!(offset + at, mem);
    if (n === CHUNK && out < 8) {
      out++;
      releaseWhenWritten(mem, () => (out--, pool.push(mem)));
    }
    at += n;
    yield mem;
  }
}

/** The first `n` bytes of a payload (fewer if it is shorter), reading no more than needed where it can seek. */
export async function payloadHead(p: Payload | undefined, n: number): Promise<Uint8Array> {
  if (p === undefined) return EMPTY;
  if (p instanceof Uint8Array) return p.subarray(0, n);
  if (p.readAt) return p.readAt(0, Math.min(n, p.size));
  const parts: Uint8Array[] = [];
  let got = 0;
  for await (const c of p.chunks()) {
    parts.push(c);
    got += c.length;
    if (got >= n) break;
  }
  const all = new Uint8Array(Math.min(got, n));
  let at = 0;
  for (const c of parts) {
    all.set(c.subarray(0, all.length - at), at);
    at += Math.min(c.length, all.length - at);
    if (at >= all.length) break;
  }
  return all;
}

/** The payload's bytes in one buffer (for small payloads). */
export async function payloadBytes(p: Payload | undefined): Promise<Uint8Array> {
  if (p === undefined) return EMPTY;
  if (p instanceof Uint8Array) return p;
  const out = new Uint8Array(p.size);
  let at = 0;
  for await (const c of p.chunks()) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Writes a payload to `sink` and returns the bytes written and its CRC-32 continued from `crc`:
 * a file range is copied and summed on the thread pool when the sink can (`copyFromCrc`), anything
 * else is summed chunk by chunk on its way through `pipeInto`.
 */
export async function copyPayloadCrc(sink: ByteSink, p: Payload, crc = 0): Promise<{ written: number; crc: number }> {
  if (!(p instanceof Uint8Array) && p.file && sink.copyFromCrc) {
    if (!p.size) return { written: 0, crc };
    return { written: p.size, crc: crc32Combine(crc, await sink.copyFromCrc(p.file, p.size), p.size) };
  }
  let c = crc;
  const written = await pipeInto(sink, payloadChunks(p), (chunk) => (c = crc32(chunk, c)));
  return { written, crc: c };
}
