/**
 * Reading one cpio archive (newc or crc) up to its trailer: `decodeCpio` over bytes in memory,
 * `readCpio` over a stream. Multi-segment initramfs images are walked by initramfs.ts.
 */
import { FormatError } from '../bytes/errors.js';
import type { ByteSource } from '../bytes/source.js';
import { byteSum, dataPad, decodeHeader, decodeName, fileType, HEADER_SIZE, isReg, namePad, PATH_MAX, S_IFLNK, S_IFREG, TRAILER, type CpioHeader } from './layout.js';

/** A decoded entry: the header fields, the name, and where the header starts in the image. */
export interface CpioEntry extends CpioHeader {
  /**
   * The name up to its first NUL, decoded as UTF-8 (as stored: no leading `/` is added or removed).
   * A byte that is not valid UTF-8 becomes U+DC00 + byte (`decodeName`), so distinct names stay
   * distinct; `encodeName(name)` gives the stored bytes back.
   */
  readonly name: string;
  /** Absolute offset of the header in the image (or in the decompressed segment, see initramfs.ts). */
  readonly offset: number;
}

export interface CpioRecord {
  readonly entry: CpioEntry;
  /** The data: file content or symlink target. Zero-copy: aliases the input. */
  readonly data: Uint8Array;
}

export interface ReadOptions {
  /** Absolute offset of the input's first byte in the image, for error offsets. */
  base?: number;
  /** Verify crc (070702) sums of regular files, as the kernel does (default true). */
  verifyChecksums?: boolean;
}

const TRAILER_BYTES = new TextEncoder().encode(TRAILER);

/** Checks one header against the rules the kernel enforces; returns the name's length before its NUL. */
function checkHeader(h: CpioHeader, name: Uint8Array, at: number): number {
  if (h.namesize === 0) throw new FormatError('cpio', 'BAD_FIELD', at + 94, 'Cannot parse cpio namesize: 0 leaves no room for the NUL');
  if (name[name.length - 1] !== 0)
    throw new FormatError('cpio', 'BAD_FIELD', at + HEADER_SIZE + name.length - 1, 'Cannot parse cpio name: it is not NUL-terminated');
  const t = fileType(h.mode);
  if (h.filesize !== 0 && t !== S_IFREG && t !== S_IFLNK)
    throw new FormatError('cpio', 'BAD_FIELD', at + 54, `Cannot parse cpio filesize: ${h.filesize} on an entry that holds no data (mode 0${h.mode.toString(8)})`);
  if (t === S_IFLNK && h.filesize > PATH_MAX)
    throw new FormatError('cpio', 'LIMIT', at + 54, `Cannot accept symlink target: ${h.filesize} bytes exceeds PATH_MAX ${PATH_MAX}`);
  return name.indexOf(0);
}

const isTrailer = (name: Uint8Array, len: number): boolean => len === TRAILER_BYTES.length && TRAILER_BYTES.every((c, i) => name[i] === c);

function checkSum(h: CpioHeader, data: Uint8Array | number, at: number): void {
  const sum = typeof data === 'number' ? data : byteSum(data);
  if (h.format === 'crc' && isReg(h.mode) && sum !== h.check)
    throw new FormatError('cpio', 'BAD_CHECKSUM', at + 102, `Cannot verify cpio data: byte sum is 0x${sum.toString(16)}, header says 0x${h.check.toString(16)}`);
}

/**
 * Decodes one archive from `bytes` starting at `start`, up to and including its trailer.
 * Returns the records (zero-copy) and `end`, the offset just after the trailer entry.
 * A missing trailer is TRUNCATED.
 *
 * @example
 * ```ts
 * const { records } = decodeCpio(await readFile('root.cpio'));
 * for (const { entry, data } of records) console.log(entry.name, data.length);
 * ```
 */
export function decodeCpio(bytes: Uint8Array, start = 0, opts: ReadOptions = {}): { records: CpioRecord[]; end: number } {
  const base = opts.base ?? 0;
  const verify = opts.verifyChecksums ?? true;
  const records: CpioRecord[] = [];
  let at = start;
  for (;;) {
    const h = decodeHeader(bytes, at, base);
    if (h.namesize > PATH_MAX) throw new FormatError('cpio', 'LIMIT', base + at + 94, `Cannot accept cpio name: namesize ${h.namesize} exceeds PATH_MAX ${PATH_MAX}`);
    const nameAt = at + HEADER_SIZE;
    const dataAt = nameAt + h.namesize + namePad(h.namesize);
    if (nameAt + h.namesize > bytes.length)
      throw new FormatError('cpio', 'TRUNCATED', base + nameAt, `Cannot read cpio name: need ${h.namesize} bytes, ${bytes.length - nameAt} left`);
    const nameField = bytes.subarray(nameAt, nameAt + h.namesize);
    const len = checkHeader(h, nameField, base + at);
    if (dataAt + h.filesize > bytes.length)
      throw new FormatError('cpio', 'TRUNCATED', base + Math.min(dataAt, bytes.length), `Cannot read cpio data of "${decodeName(nameField.subarray(0, len))}": need ${h.filesize} bytes, ${Math.max(0, bytes.length - dataAt)} left`);
    const data = bytes.subarray(dataAt, dataAt + h.filesize);
    if (verify) checkSum(h, data, base + at);
    const next = dataAt + h.filesize + dataPad(h.filesize);
    if (isTrailer(nameField, len)) return { records, end: Math.min(next, bytes.length) };
    records.push({ entry: { ...h, name: decodeName(nameField.subarray(0, len)), offset: base + at }, data });
    at = next;
    if (at > bytes.length) throw new FormatError('cpio', 'TRUNCATED', base + bytes.length, 'Cannot read cpio padding: input ends inside it');
  }
}

/** An entry from a stream: the body must be consumed (or left alone: it is then skipped) before the next entry. */
export interface CpioStreamEntry {
  readonly entry: CpioEntry;
  readonly body: AsyncIterable<Uint8Array>;
}

/**
 * Reads one archive from a stream, entry by entry, up to its trailer (not the padding after it).
 * Bodies are zero-copy subarrays of the input chunks. crc sums are verified when the body has
 * been read to its end (a body that is skipped is not summed).
 *
 * @example
 * ```ts
 * for await (const { entry, body } of readCpio(new ByteSource(createReadStream(path), 'cpio')))
 *   if (entry.name === 'init') for await (const c of body) process.stdout.write(c);
 * ```
 */
export async function* readCpio(src: ByteSource, opts: ReadOptions = {}): AsyncGenerator<CpioStreamEntry> {
  const verify = opts.verifyChecksums ?? true;
  const base = opts.base ?? 0;
  for (;;) {
    const at = base + src.position;
    const head = await src.read(HEADER_SIZE, 'cpio header');
    const h = decodeHeader(head, 0, at);
    if (h.namesize > PATH_MAX) throw new FormatError('cpio', 'LIMIT', at + 94, `Cannot accept cpio name: namesize ${h.namesize} exceeds PATH_MAX ${PATH_MAX}`);
    const nameField = await src.read(h.namesize, 'cpio name');
    const len = checkHeader(h, nameField, at);
    await src.skip(namePad(h.namesize), 'cpio name padding');
    if (isTrailer(nameField, len)) {
      await src.skip(h.filesize + dataPad(h.filesize), 'cpio trailer');
      return;
    }
    const entry: CpioEntry = { ...h, name: decodeName(nameField.subarray(0, len)), offset: at };
    let started = false;
    let consumed = 0; // body bytes taken so far; the rest is skipped when the caller moves on
    const body = async function* (): AsyncGenerator<Uint8Array> {
      if (started) throw new TypeError(`Cannot read the body of "${entry.name}" twice`);
      started = true;
      let sum = 0;
      for await (const c of src.body(h.filesize, 'cpio data')) {
        consumed += c.length;
        if (verify && h.format === 'crc') sum = byteSum(c, sum);
        yield c;
      }
      if (verify) checkSum(h, sum, at);
    };
    yield { entry, body: body() };
    await src.skip(h.filesize - consumed + dataPad(h.filesize), 'cpio data');
  }
}

