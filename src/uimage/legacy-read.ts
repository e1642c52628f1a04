/**
 * Reading legacy uImages: header checks (magic, hcrc), the data extent, the multi-file size table,
 * and the data CRC, either from bytes in memory or streamed from a RandomAccess in bounded memory.
 *
 * The checks follow U-Boot's bootm (the consumer that boots the image), not mkimage's `-l`:
 * the data CRC covers ih_size bytes, and bytes after them (flash padding) are allowed and reported
 * as `trailing` (mkimage 2023.01 checksums the whole file instead, and rejects such images).
 */
import { crc32, crc32Range } from '../bytes/crc32.js';
import { FormatError } from '../bytes/errors.js';
import { limit, padding } from '../bytes/limits.js';
import { rangePayload, type StreamPayload } from '../bytes/payload.js';
import { bytesAccess, type RandomAccess } from '../bytes/random.js';
import { HEADER_SIZE, IH_MAGIC, IVT_CSF_EXTRA, LegacyHeader, OFF } from './layout.js';
import { IH_TYPE_FIRMWARE_IVT, IH_TYPE_MULTI, IH_TYPE_SCRIPT } from './tables.js';

export interface LegacyReadOptions {
  /** Check the header CRC and the data CRC (default true). With false, only structure is checked. */
  readonly verify?: boolean;
  /**
   * Check the data CRC while {@link OpenedLegacyImage.data} is streamed rather than at open: one
   * pass over the data instead of two. The stream throws the FormatError after its last chunk, so a
   * consumer writing a file must discard it then (withOutputFile does). Only for non-multi images;
   * the header CRC is still checked at open.
   */
  readonly dataCrcWhileStreaming?: boolean;
  /** Most entries accepted in a multi-file size table (default 65536). */
  readonly maxParts?: number;
}

/** One part of the data: the whole data, or one file of a multi/script image. Offsets are absolute. */
export interface LegacyPart {
  readonly offset: number;
  readonly size: number;
}

export interface LegacyImageInfo {
  readonly header: LegacyHeader;
  /** Where the data starts (always 64) and how many of its bytes are in the file. */
  readonly dataOffset: number;
  readonly dataSize: number;
  /** The data, or for multi/script images each file listed in the size table. */
  readonly parts: readonly LegacyPart[];
  /** Bytes after the data (flash padding, or anything appended); U-Boot ignores them. */
  readonly trailing: number;
}

const DEFAULT_MAX_PARTS = 65_536;

const isMulti = (type: number): boolean => type === IH_TYPE_MULTI || type === IH_TYPE_SCRIPT;

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * Decodes and checks the 64-byte header: magic, then (unless `verify` is false) hcrc. `fileSize`
 * is the size of the whole image, to check that ih_size bytes of data follow.
 */
export function checkLegacyHeader(bytes: Uint8Array, fileSize: number, opts?: LegacyReadOptions): { header: LegacyHeader; dataSize: number } {
  if (bytes.length >= 4) {
    const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    if (magic !== IH_MAGIC)
      throw new FormatError('uimage', 'BAD_MAGIC', OFF.magic, `Cannot parse legacy header: magic is ${hex(magic)}, not ${hex(IH_MAGIC)}`);
  }
  const header = LegacyHeader.decode(bytes);
  if (opts?.verify !== false) {
    const copy = bytes.slice(0, HEADER_SIZE);
    new DataView(copy.buffer).setUint32(OFF.hcrc, 0);
    const got = crc32(copy);
    if (got !== header.hcrc)
      throw new FormatError('uimage', 'BAD_CHECKSUM', OFF.hcrc, `Cannot verify legacy header: header CRC is ${hex(got)}, the header says ${hex(header.hcrc)}`);
  }
  let dataSize = header.size;
  if (header.type === IH_TYPE_FIRMWARE_IVT) {
    // ih_size counts a CSF area that mkimage does not write (tools/default_image.c)
    if (dataSize < IVT_CSF_EXTRA)
      throw new FormatError('uimage', 'BAD_FIELD', OFF.size, `Cannot parse firmware_ivt header: ih_size ${dataSize} is below the CSF size ${IVT_CSF_EXTRA}`);
    dataSize -= IVT_CSF_EXTRA;
  }
  if (HEADER_SIZE + dataSize > fileSize)
    throw new FormatError('uimage', 'TRUNCATED', OFF.size,
      `Cannot read legacy image data: ih_size says ${dataSize} bytes, the file has ${Math.max(0, fileSize - HEADER_SIZE)} after the header`);
  return { header, dataSize };
}

/**
 * Walks the size table of a multi/script image one entry at a time and checks that every file lies
 * inside the data. It fails as soon as the table or the files it lists would run past ih_size, so a
 * hostile table is rejected after at most ih_size / 8 entries, before anything is allocated for it.
 */
export class MultiTableWalker {
  readonly sizes: number[] = [];
  #filesEnd = 0; // bytes of the files so far, all but the newest padded to 4
  #done = false;
  constructor(
    readonly dataSize: number,
    readonly maxParts = DEFAULT_MAX_PARTS,
  ) {}
  get done(): boolean {
    return this.#done;
  }
  /** Index of the next entry wanted; throws TRUNCATED when the data has no room for it. */
  next(): number {
    const i = this.sizes.length;
    if (4 * (i + 1) > this.dataSize)
      throw new FormatError('uimage', 'TRUNCATED', HEADER_SIZE + 4 * i, `Cannot parse multi-file size table: no 0 entry within the ${this.dataSize} data bytes`);
    return i;
  }
  /** Takes the value of entry {@link next}. */
  push(s: number): void {
    const i = this.sizes.length;
    const at = HEADER_SIZE + 4 * i;
    if (s === 0) {
      this.#done = true;
      return;
    }
    limit(i + 1, this.maxParts, 'multi-file size table entries', 'uimage', at);
    const prev = i ? this.sizes[i - 1]! : 0;
    this.#filesEnd += padding(prev, 4) + s;
    // the table needs at least one more entry (the 0) after this one
    if (4 * (i + 2) + this.#filesEnd > this.dataSize)
      throw new FormatError('uimage', 'BAD_FIELD', at, `Cannot parse multi-file size table: file ${i} (${s} bytes) ends past the ${this.dataSize} data bytes`);
    this.sizes.push(s);
  }
  /** The files, once the 0 entry has been pushed. Offsets are absolute (as image_multi_getimg). */
  parts(): LegacyPart[] {
    const parts: LegacyPart[] = [];
    let off = HEADER_SIZE + 4 * (this.sizes.length + 1);
    for (const s of this.sizes) {
      parts.push({ offset: off, size: s });
      off += s + padding(s, 4);
    }
    return parts;
  }
}

function parseMultiTableSync(bytes: Uint8Array, dataSize: number, maxParts: number): LegacyPart[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = new MultiTableWalker(dataSize, maxParts);
  while (!w.done) w.push(dv.getUint32(HEADER_SIZE + 4 * w.next()));
  return w.parts();
}

/** Everything about an image except its data, from bytes in memory. Throws FormatError on bad input. */
export function decodeLegacyImage(bytes: Uint8Array, opts?: LegacyReadOptions): LegacyImageInfo & { data: Uint8Array } {
  const { header, dataSize } = checkLegacyHeader(bytes, bytes.length, opts);
  const data = bytes.subarray(HEADER_SIZE, HEADER_SIZE + dataSize);
  if (opts?.verify !== false) checkDataCrc(header, crc32(data));
  const parts = isMulti(header.type)
    ? parseMultiTableSync(bytes, dataSize, opts?.maxParts ?? DEFAULT_MAX_PARTS)
    : [{ offset: HEADER_SIZE, size: dataSize }];
  return { header, dataOffset: HEADER_SIZE, dataSize, parts, trailing: bytes.length - HEADER_SIZE - dataSize, data };
}

function checkDataCrc(header: LegacyHeader, got: number): void {
  if (got !== header.dcrc)
    throw new FormatError('uimage', 'BAD_CHECKSUM', OFF.dcrc, `Cannot verify legacy image data: data CRC is ${hex(got)}, the header says ${hex(header.dcrc)}`);
}

export interface OpenedLegacyImage extends LegacyImageInfo {
  /** The data (ih_size bytes, the multi-file table included), streamed from the input. */
  data(): StreamPayload;
  /**
   * File `index` of a multi/script image (the whole data for other types), streamed. A FormatError
   * when the size table has no file `index`; a RangeError when `index` is not a natural number.
   */
  part(index: number): StreamPayload;
  /**
   * Checks the data CRC in one pass over the data (a FormatError when it does not match): for a
   * caller that copies the data otherwise than through data().chunks(), e.g. in the kernel.
   */
  checkData(): Promise<void>;
  /** Throws the FormatError of a data CRC that is not the header's: for a caller that summed the data itself (`sink.copyFromCrc`). */
  checkDataCrc(crc: number): void;
}

/**
 * Opens an image for random access. With `verify` (the default) both CRCs are checked here; the
 * data CRC is computed in 4 MiB reads, so memory stays bounded whatever the image size.
 *
 * @example
 * ```ts
 * const ra = await fileAccess('uImage', 'uimage');
 * const img = await openLegacyImage(ra);
 * await pipeInto(sink, img.part(0).chunks());
 * ```
 */
export async function openLegacyImage(ra: RandomAccess, opts?: LegacyReadOptions): Promise<OpenedLegacyImage> {
  const { header, dataSize } = checkLegacyHeader(await ra.readAt(0, Math.min(HEADER_SIZE, ra.size)), ra.size, opts);
  const deferCrc = opts?.verify !== false && opts?.dataCrcWhileStreaming === true && !isMulti(header.type);
  const checkData = async () => checkDataCrc(header, await crc32Range(ra, HEADER_SIZE, dataSize, 'uimage'));
  if (opts?.verify !== false && !deferCrc) await checkData();
  let parts: LegacyPart[] = [{ offset: HEADER_SIZE, size: dataSize }];
  if (isMulti(header.type)) {
    const BLOCK = 4096;
    const w = new MultiTableWalker(dataSize, opts?.maxParts ?? DEFAULT_MAX_PARTS);
    let block = -1;
    let view: DataView | undefined;
    while (!w.done) {
      const at = 4 * w.next();
      const b = Math.floor(at / BLOCK);
      if (b !== block) {
        const bytes = await ra.readAt(HEADER_SIZE + b * BLOCK, Math.min(BLOCK, dataSize - b * BLOCK));
        view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        block = b;
      }
      w.push(view!.getUint32(at - b * BLOCK));
    }
    parts = w.parts();
  }
  const data = (): StreamPayload => {
    const whole = rangePayload(ra, HEADER_SIZE, dataSize, 'uimage');
    if (!deferCrc) return whole;
    return {
      size: dataSize,
      async *chunks() {
        let c = 0;
        for await (const chunk of whole.chunks()) {
          c = crc32(chunk, c);
          yield chunk;
        }
        checkDataCrc(header, c);
      },
    };
  };
  return {
    header,
    dataOffset: HEADER_SIZE,
    dataSize,
    parts,
    trailing: ra.size - HEADER_SIZE - dataSize,
    data,
    checkData,
    checkDataCrc: (crc) => checkDataCrc(header, crc),
    part(index) {
      if (!isMulti(header.type)) return data();
      if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`Cannot extract file ${index}: not a file index`);
      const p = parts[index];
      // as dumpimage's "No such data file N": the size table ends (its 0 entry) before entry N
      if (p === undefined)
        throw new FormatError('uimage', 'BAD_FIELD', HEADER_SIZE + 4 * parts.length,
          `Cannot extract file ${index}: no such data file, the size table lists ${parts.length ? `${parts.length} (0..${parts.length - 1})` : 'none'}`);
      return rangePayload(ra, p.offset, p.size, 'uimage');
    },
  };
}

/** {@link openLegacyImage} over bytes in memory. */
export function openLegacyBytes(bytes: Uint8Array, opts?: LegacyReadOptions): Promise<OpenedLegacyImage> {
  return openLegacyImage(bytesAccess(bytes, 'uimage'), opts);
}
