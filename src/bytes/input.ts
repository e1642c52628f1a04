/**
 * Whole inputs that commands read into memory (device trees, initramfs archives, kernels to
 * compress, source files), from a regular file or from a pipe or device, within bounds.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { FormatError, isDirectoryError } from './errors.js';
import { limit } from './limits.js';
import { concat } from './source.js';

/**
 * Most bytes read from an input that is not a regular file (a pipe, /dev/stdin, a device): its size
 * is unknown until it ends, and /dev/zero never ends.
 */
export const STREAM_INPUT_MAX = 256 << 20;

/**
 * The whole of a command's input file. A regular file is read at its size (one past 2 GiB, more
 * than one buffer holds, is a FormatError LIMIT before anything is read); a pipe or a device is
 * read until it ends, and refused as soon as it passes `max` (default {@link STREAM_INPUT_MAX}), so
 * an endless input such as /dev/zero fails instead of filling memory.
 */
export async function readInput(path: string, format: string, max = STREAM_INPUT_MAX): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw isDirectoryError(path);
    if (st.isFile()) {
      limit(st.size, WHOLE_FILE_MAX, `${path} (${st.size} bytes) whole in memory`, format, 0);
      return new Uint8Array(await fh.readFile());
    }
    const r = new StreamRead(path, format, max);
    for (let more = true; more; ) {
      const buf = r.buffer();
      more = r.got((await fh.read(buf, 0, buf.length, null)).bytesRead);
    }
    return r.bytes();
  } finally {
    await fh.close();
  }
}

/** {@link readInput}, synchronously (source files a compiler reads as it goes: DTS includes, pseudo files). */
export function readInputSync(path: string, format: string, max = STREAM_INPUT_MAX): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw isDirectoryError(path);
    if (st.isFile()) {
      limit(st.size, WHOLE_FILE_MAX, `${path} (${st.size} bytes) whole in memory`, format, 0);
      return new Uint8Array(readFileSync(fd));
    }
    const r = new StreamRead(path, format, max);
    for (let more = true; more; ) {
      const buf = r.buffer();
      more = r.got(readSync(fd, buf, 0, buf.length, null));
    }
    return r.bytes();
  } finally {
    closeSync(fd);
  }
}

/** Standard input, whole, within the bound of any other pipe. */
export async function readStdin(format: string, max = STREAM_INPUT_MAX): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of process.stdin as AsyncIterable<Uint8Array>) {
    if ((n += c.length) > max) throw new FormatError(format, 'LIMIT', max, `Cannot read standard input: it goes on past ${max} bytes (save it to a file first)`);
    parts.push(c);
  }
  return concat(parts, n);
}

/** {@link readInputSync} as text in `encoding` ('latin1' is ISO-8859-1, as Node's Buffer reads it). */
export function readTextSync(path: string, format: string, encoding: 'latin1' | 'utf8'): string {
  const b = readInputSync(path, format);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString(encoding);
}

/** More than one buffer holds (Node's limit for reading a file whole). */
const WHOLE_FILE_MAX = 2 ** 31 - 1;

/**
 * The bytes of an input of unknown size, read until it ends or passes `max`. Reads fill one 1 MiB
 * buffer after another (a pipe gives at most 64 KiB per read: a buffer per read would hold 16
 * times the bytes read).
 */
class StreamRead {
  readonly #parts: Uint8Array[] = [];
  #cur = new Uint8Array(1 << 20);
  #used = 0;
  #n = 0;
  constructor(readonly path: string, readonly format: string, readonly max: number) {}
  /** Where the next read goes: the free end of the current buffer. */
  buffer(): Uint8Array {
    return this.#cur.subarray(this.#used);
  }
  /** Takes `n` bytes read into {@link buffer}; false at the end of the input. */
  got(n: number): boolean {
    if (n === 0) return false;
    this.#n += n;
    if (this.#n > this.max)
      throw new FormatError(this.format, 'LIMIT', this.max, `Cannot read ${this.path}: it is not a regular file and goes on past ${this.max} bytes (save it to a file first)`);
    this.#used += n;
    if (this.#used === this.#cur.length) {
      this.#parts.push(this.#cur);
      this.#cur = new Uint8Array(1 << 20);
      this.#used = 0;
    }
    return true;
  }
  bytes(): Uint8Array {
    return concat([...this.#parts, this.#cur.subarray(0, this.#used)], this.#n);
  }
}
