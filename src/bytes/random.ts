import { open, type FileHandle } from 'node:fs/promises';
import { FormatError } from './errors.js';

/** Random-access input (squashfs, FIT, boot.img, AVB footers). */
export interface RandomAccess {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; a FormatError TRUNCATED when they are not all there. */
  readAt(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

function truncated(format: string, offset: number, length: number, size: number): FormatError {
  return new FormatError(format, 'TRUNCATED', offset, `Cannot read ${length} bytes: the input ends at 0x${size.toString(16)}`);
}

/** Random access over bytes in memory; reads are zero-copy views. */
export function bytesAccess(bytes: Uint8Array, format = 'input'): RandomAccess {
  return {
    size: bytes.length,
    async readAt(offset, length) {
      if (offset < 0 || length < 0 || offset + length > bytes.length) throw truncated(format, offset, length, bytes.length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** Random access over a file; each read allocates exactly what it returns. */
export async function fileAccess(path: string, format = 'input'): Promise<RandomAccess> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    return handleAccess(fh, size, format);
  } catch (e) {
    await fh.close();
    throw e;
  }
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
    close: () => fh.close(),
  };
}

/** The bytes of `ra` from `offset`, `length` long, as chunks of at most `chunk` bytes. */
export async function* rangeChunks(ra: RandomAccess, offset: number, length: number, chunk = 4 << 20): AsyncGenerator<Uint8Array> {
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
