/** Writing legacy uImages: header + data, multi-file size table, both CRCs, streamed in bounded memory. */
import { crc32 } from '../bytes/crc32.js';
import { padding } from '../bytes/limits.js';
import { copyPayloadCrc, payloadSize, payloadChunks, type Payload, type StreamPayload } from '../bytes/payload.js';
import { pipeInto, type ByteSink } from '../bytes/sink.js';
import { HEADER_SIZE, IH_MAGIC, LegacyHeader, MAX_DATA_SIZE, OFF, encodeName, multiDataSize, multiTableSize } from './layout.js';
import { IH_TYPE_MULTI, IH_TYPE_SCRIPT } from './tables.js';

/** What goes into a legacy uImage. Numbers are the header's raw values (tables.ts names them). */
export interface LegacyImageSpec {
  readonly os: number;
  readonly arch: number;
  readonly type: number;
  readonly comp: number;
  readonly load: number;
  readonly ep: number;
  /** ih_time in seconds since 1970; stored modulo 2^32, as mkimage's (uint32_t) cast does. */
  readonly time: number;
  /** ih_name: UTF-8 (or raw bytes), cut at 32 bytes and at the first NUL. */
  readonly name: string | Uint8Array;
  /**
   * The data. Multi-file and script images (type 4, 6) take one or more non-empty parts, laid out
   * after a size table; every other type takes exactly one part, which may be empty.
   */
  readonly parts: readonly Payload[];
  /** Write `parts[0]` as the data whatever the type, with no multi-file table (mkimage -s; repacking). */
  readonly raw?: boolean;
  /** ih_size when it is not the number of data bytes written (firmware_ivt counts a CSF area that is not in the file). */
  readonly sizeField?: number;
}

const isMulti = (type: number): boolean => type === IH_TYPE_MULTI || type === IH_TYPE_SCRIPT;

function u32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`Cannot encode uImage ${what}: ${v} is not a u32`);
  return v;
}

function u8(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`Cannot encode uImage ${what}: ${v} is not a u8`);
  return v;
}

/** The data as laid out after the header: for multi/script, size table, parts and padding. */
export function legacyData(spec: Pick<LegacyImageSpec, 'type' | 'parts' | 'raw'>): Payload[] {
  if (spec.raw || !isMulti(spec.type)) {
    if (spec.parts.length !== 1) throw new RangeError(`Cannot encode uImage: type ${spec.type} takes exactly one data part, got ${spec.parts.length}`);
    return [spec.parts[0]!];
  }
  if (spec.parts.length === 0) throw new RangeError('Cannot encode uImage: a multi-file or script image needs at least one part');
  const sizes = spec.parts.map(payloadSize);
  const table = new Uint8Array(multiTableSize(sizes.length));
  const dv = new DataView(table.buffer);
  sizes.forEach((s, i) => {
    // a 0 entry ends U-Boot's table (image_multi_count), so an empty part would hide the ones after it
    if (s === 0) throw new RangeError(`Cannot encode uImage: multi-file part ${i} is empty`);
    dv.setUint32(4 * i, u32(s, `part ${i} size`));
  });
  const out: Payload[] = [table];
  spec.parts.forEach((p, i) => {
    out.push(p);
    if (i < spec.parts.length - 1 && padding(sizes[i]!, 4)) out.push(new Uint8Array(padding(sizes[i]!, 4)));
  });
  return out;
}

/** Bytes of data `legacyData(spec)` gives. */
export function legacyDataSize(spec: Pick<LegacyImageSpec, 'type' | 'parts' | 'raw'>): number {
  return !spec.raw && isMulti(spec.type) ? multiDataSize(spec.parts.map(payloadSize)) : payloadSize(spec.parts[0]);
}

/** The 64 header bytes for `spec` whose data is `dataSize` bytes with CRC `dcrc`; hcrc filled in. */
export function encodeLegacyHeader(spec: Omit<LegacyImageSpec, 'parts'>, dataSize: number, dcrc: number): Uint8Array {
  if (!Number.isFinite(spec.time)) throw new RangeError(`Cannot encode uImage time: ${spec.time} is not a number`);
  const size = spec.sizeField ?? dataSize;
  if (size > MAX_DATA_SIZE) throw new RangeError(`Cannot encode uImage: ${size} data bytes do not fit the 32-bit ih_size`);
  const h: LegacyHeader = {
    magic: IH_MAGIC,
    hcrc: 0,
    time: ((Math.trunc(spec.time) % 2 ** 32) + 2 ** 32) % 2 ** 32,
    size: u32(size, 'size'),
    load: u32(spec.load, 'load address'),
    ep: u32(spec.ep, 'entry point'),
    dcrc: u32(dcrc, 'data CRC'),
    os: u8(spec.os, 'os'),
    arch: u8(spec.arch, 'arch'),
    type: u8(spec.type, 'type'),
    comp: u8(spec.comp, 'comp'),
    name: encodeName(spec.name),
  };
  const bytes = LegacyHeader.encode(h);
  new DataView(bytes.buffer).setUint32(OFF.hcrc, crc32(bytes));
  return bytes;
}

/**
 * Encodes a whole image in memory (small images, tests). Parts must be bytes.
 *
 * @example
 * ```ts
 * const img = encodeLegacyImage({ os: 5, arch: 2, type: 2, comp: 0, load: 0x40008000, ep: 0x40008000, time: 0, name: 'Linux', parts: [zImage] });
 * ```
 */
export function encodeLegacyImage(spec: LegacyImageSpec): Uint8Array {
  const data = legacyData(spec);
  const size = legacyDataSize(spec);
  const out = new Uint8Array(HEADER_SIZE + size);
  let at = HEADER_SIZE;
  let dcrc = 0;
  for (const p of data) {
    if (!(p instanceof Uint8Array)) throw new TypeError('Cannot encode uImage in memory: a part is a stream; use writeLegacyImage');
    out.set(p, at);
    at += p.length;
    dcrc = crc32(p, dcrc);
  }
  out.set(encodeLegacyHeader(spec, size, dcrc), 0);
  return out;
}

/**
 * Writes the image to `sink`, streaming every part once: the header is written last with the data
 * CRC when the sink can seek (`writeAt`), otherwise the parts are read twice (CRC pass, then copy).
 * Memory stays bounded by the payloads' chunk size whatever the image size. Returns the header.
 *
 * @example
 * ```ts
 * await withOutputFile('uImage', (sink) => writeLegacyImage(sink, { ...spec, parts: [await filePayload('Image.gz')] }));
 * ```
 */
export async function writeLegacyImage(sink: ByteSink, spec: LegacyImageSpec): Promise<LegacyHeader> {
  const data = legacyData(spec);
  const size = legacyDataSize(spec);
  encodeLegacyHeader(spec, size, 0); // validates every field before anything is written
  const start = sink.position;
  let dcrc = 0;
  if (sink.writeAt) {
    await sink.writev([new Uint8Array(HEADER_SIZE)]);
    let written = 0;
    for (const p of data) {
      const part = await copyPayloadCrc(sink, p, dcrc);
      written += part.written;
      dcrc = part.crc;
    }
    if (written !== size) throw inconsistent(written, size);
    const header = encodeLegacyHeader(spec, size, dcrc);
    await sink.writeAt(start, [header]);
    return LegacyHeader.decode(header);
  }
  let n = 0;
  for await (const c of chunksOf(data)) {
    dcrc = crc32(c, dcrc);
    n += c.length;
  }
  if (n !== size) throw inconsistent(n, size);
  const header = encodeLegacyHeader(spec, size, dcrc);
  await sink.writev([header]);
  const written = await pipeInto(sink, chunksOf(data));
  if (written !== size) throw inconsistent(written, size);
  return LegacyHeader.decode(header);
}

function inconsistent(got: number, want: number): Error {
  return Object.assign(new Error(`Cannot write uImage: the input gave ${got} bytes, ${want} were announced (did a file change?)`), { code: 'EIO' });
}

async function* chunksOf(parts: readonly Payload[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield* payloadChunks(p);
}

/** Payloads one after the other, as one payload. */
export function concatPayloads(parts: readonly Payload[]): StreamPayload {
  return { size: parts.reduce((n, p) => n + payloadSize(p), 0), chunks: () => chunksOf(parts) };
}
