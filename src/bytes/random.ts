import { constants, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FormatError, isDirectoryError } from './errors.js';

/** Random-access input (squashfs, FIT, boot.img, AVB footers). */
export interface RandomAccess {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; a FormatError TRUNCATED when they are not all there. */
  readAt(offset: number, length: number): Promise<Uint8Array>;
  /**
   * The same read, synchronously, for sources that can answer without waiting long (memory, local
   * files): many small reads then skip a round trip through the thread pool each.
   */
  readAtSync?(offset: number, length: number): Uint8Array;
  /** Fills `into` with the bytes at `offset`, synchronously (files): a caller can reuse one buffer. */
  readIntoSync?(offset: number, into: Uint8Array): void;
  close?(): Promise<void>;
  /** The open file the bytes are read from (valid until `close`), for copies the kernel makes. */
  readonly fd?: number;
}

function truncated(format: string, offset: number, length: number, size: number): FormatError {
  return new FormatError(format, 'TRUNCATED', offset, `Cannot read ${length} bytes: the input ends at 0x${size.toString(16)}`);
}

/** Random access over bytes in memory; reads are zero-copy views. */
export function bytesAccess(bytes: Uint8Array, format = 'input'): RandomAccess {
  const readAtSync = (offset: number, length: number): Uint8Array => {
    if (offset < 0 || length < 0 || offset + length > bytes.length) throw truncated(format, offset, length, bytes.length);
    return bytes.subarray(offset, offset + length);
  };
  return { size: bytes.length, readAt: async (offset, length) => readAtSync(offset, length), readAtSync };
}

/**
 * `path` opened for reading, with its size; a folder is an EISDIR error naming it. By default
 * O_NONBLOCK: a FIFO with no writer opens at once (and reads as empty) instead of blocking; files
 * and block devices read as ever.
 */
export async function openForReading(path: string, flags: number | string = constants.O_RDONLY | constants.O_NONBLOCK): Promise<{ fh: FileHandle; size: number }> {
  const fh = await open(path, flags);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw isDirectoryError(path);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Random access over a file; each read allocates exactly what it returns. */
export async function fileAccess(path: string, format = 'input'): Promise<RandomAccess> {
  const { fh, size } = await openForReading(path);
  return handleAccess(fh, size, format);
}

export function handleAccess(fh: FileHandle, size: number, format = 'input'): RandomAccess {
  return {
    size,
    async readAt(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) throw truncated(format, offset, length, size);
      const out = new Uint8Array(length);
      for (let got = 0; got < length; ) {
        const { bytesRead } = await fh.read(out, got, length - got, offset + got);
        if (bytesRead === 0) throw truncated(format, offset + got, length - got, offset + got);
        got += bytesRead;
      }
      return out;
    },
    readAtSync(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) throw truncated(format, offset, length, size);
      // not zero-filled first: every byte is read over, or the read fails
      const b = Buffer.allocUnsafeSlow(length);
      const out = new Uint8Array(b.buffer, b.byteOffset, length);
      for (let got = 0; got < length; ) {
        const n = readSync(fh.fd, out, got, length - got, offset + got);
        if (n === 0) throw truncated(format, offset + got, length - got, offset + got);
        got += n;
      }
      return out;
    },
    readIntoSync(offset, into) {
      const length = into.length;
      if (offset < 0 || offset + length > size) throw truncated(format, offset, length, size);
      for (let got = 0; got < length; ) {
        const n = readSync(fh.fd, into, got, length - got, offset + got);
        if (n === 0) throw truncated(format, offset + got, length - got, offset + got);
        got += n;
      }
    },
    close: () => fh.close(),
    fd: fh.fd,
  };
}

/**
 * Hands `fn` the bytes of `ra` from `offset`, `length` long, in order, for a pass that only looks
 * at them (a checksum). Where `ra` reads synchronously into a buffer, one 256 KiB buffer is reused
 * for every chunk: no fresh memory to fault in per chunk, which on a 64 MiB file halves the time.
 * `fn` must not keep a chunk.
 */
export async function scanRange(ra: RandomAccess, offset: number, length: number, fn: (chunk: Uint8Array) => void): Promise<void> {
  if (ra.readIntoSync) {
    const buf = new Uint8Array(Math.min(length, 256 << 10));
    for (let at = 0; at < length; ) {
      const c = buf.subarray(0, Math.min(buf.length, length - at));
      ra.readIntoSync(offset + at, c);
      fn(c);
      at += c.length;
    }
    return;
  }
  for await (const c of rangeChunks(ra, offset, length)) fn(c);
}

/** `readAtSync` where `ra` has it, else `readAt`: for a local file, no round trip through the thread pool. */
export function readAtNow(ra: RandomAccess, offset: number, length: number): Uint8Array | Promise<Uint8Array> {
  return ra.readAtSync ? ra.readAtSync(offset, length) : ra.readAt(offset, length);
}

/** The bytes of `ra` from `offset`, `length` long, as chunks of at most `chunk` bytes. */
export async function* rangeChunks(ra: RandomAccess, offset: number, length: number, chunk = 4 << 20): AsyncGenerator<Uint8Array> {
  if (ra.readAtSync) {
    // page-cache reads are memory copies: done here, they skip the thread-pool round trip per
    // chunk, while the consumer's asynchronous writes still run on the pool meanwhile
    for (let at = 0; at < length; ) {
      const c = ra.readAtSync(offset + at, Math.min(chunk, length - at));
      at += c.length;
      yield c;
    }
    return;
  }
  const read = (at: number) => ra.readAt(offset + at, Math.min(chunk, length - at));
  let next = length > 0 ? read(0) : undefined;
  try {
    for (let at = 0; next; ) {
      const c = await next;
      at += c.length;
      next = at < length ? read(at) : undefined; // one read ahead
      yield c;
    }
  } finally {
    await next?.catch(() => {});
  }
}
