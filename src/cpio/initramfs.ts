/**
 * initramfs images as the kernel reads them (init/initramfs.c unpack_to_rootfs):
 *
 *   initramfs := ( "\0" | cpio-archive | compressed(cpio-archive…) )*
 *
 * NUL bytes are skipped one at a time; '0' at a 4-aligned offset (counted from the image start,
 * across compressed segments too: the kernel's this_header is saved_offset + my_inptr after one)
 * starts an uncompressed archive; anything else is a compressed segment named by its first bytes. Inside a decompressed segment, archives follow
 * each other with zero padding between them, and the segment must end on an entry boundary.
 * GNU cpio and bsdcpio stop at the first trailer; `walkInitramfs` goes on, as the kernel does.
 *
 * Writing: `compressStream` applies the kernel's rules to each compressor (xz with a CRC32 check,
 * lz4 in the legacy frame) with nixpkgs' defaults (gzip -9n, xz --check=crc32
 * --lzma2=dict=512KiB, lzma --lzma1=dict=512KiB, zstd -10, lz4 -l).
 */
import { FormatError } from '../bytes/errors.js';
import { collect } from '../bytes/source.js';
import { crc32 } from '../bytes/crc32.js';
import { detectCompression, type CompressionId } from '../codec/detect.js';
import { getCodec } from '../codec/registry.js';
import { maxOutputOf, type EncodeOptions, type LzmaEncoder } from '../codec/types.js';
import { decodeCpio, type CpioRecord } from './read.js';
import { pigz } from './pigz.js';

/** The compressors the kernel accepts for initramfs (CONFIG_RD_*), by the names `--compress` takes. */
export type InitramfsCompression = 'none' | 'gzip' | 'xz' | 'lzma' | 'zstd' | 'lz4' | 'bzip2';
export const COMPRESSIONS: readonly InitramfsCompression[] = ['none', 'gzip', 'xz', 'lzma', 'zstd', 'lz4', 'bzip2'];

/** Default levels: nixpkgs initrd-compressor-meta.nix (gzip -9n, zstd -10, xz/lzma preset 6, lz4 -l, bzip2 -9). */
export const DEFAULT_LEVEL: Readonly<Record<Exclude<InitramfsCompression, 'none'>, number>> = { gzip: 9, xz: 6, lzma: 6, zstd: 10, lz4: 1, bzip2: 9 };
/** nixpkgs' xz and lzma dictionary: 512 KiB (the kernel docs advise at most 1 MiB for XZ Embedded). */
export const INITRAMFS_DICT = 512 * 1024;

export interface CompressOptions {
  level?: number;
  /** xz/lzma dictionary (default 512 KiB). */
  dictSize?: number;
  /** gzip: compress blocks on this many threads at once (default 4; 1 = single stream). */
  parallel?: number;
  /** lzma: liblzma (default: the bytes `xz --format=lzma` writes) or imgkit's own encoder (faster on two cores; other bytes). */
  encoder?: LzmaEncoder;
}

const CODEC_OF: Readonly<Record<Exclude<InitramfsCompression, 'none'>, CompressionId>> = {
  gzip: 'gzip', xz: 'xz', lzma: 'lzma', zstd: 'zstd', lz4: 'lz4-legacy', bzip2: 'bzip2',
};

/**
 * Compresses a stream of archive bytes into one segment the kernel unpacks.
 *
 * @example
 * ```ts
 * await pipeInto(sink, compressStream(writeCpio(items), 'zstd'));
 * ```
 */
export async function* compressStream(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, method: InitramfsCompression, opts: CompressOptions = {}): AsyncGenerator<Uint8Array> {
  const chunks = (async function* () { yield* input; })();
  if (method === 'none') return yield* chunks;
  if (!Object.hasOwn(CODEC_OF, method)) throw new RangeError(`Cannot compress initramfs: unknown method "${String(method)}"`);
  const level = opts.level ?? DEFAULT_LEVEL[method];
  if (method === 'gzip') return yield* pigz(chunks, { level, ...(opts.parallel !== undefined && { parallel: opts.parallel }) });
  const codec = await getCodec(CODEC_OF[method]);
  const eo: EncodeOptions = { level };
  const dictSize = opts.dictSize ?? INITRAMFS_DICT;
  if (method === 'xz') eo.xz = { check: 'crc32', dictSize };
  // the size unknown, as `lzma` (xz) writes it: with a size, the kernel's unlzma stops there and
  // takes the end marker that liblzma's encoder always writes for the start of another segment
  if (method === 'lzma') eo.lzma = { dictSize, sizeInHeader: false, ...(opts.encoder && { encoder: opts.encoder }) };
  if (codec.encodeStream) return yield* codec.encodeStream(chunks, eo);
  if (!codec.encode) throw new TypeError(`Cannot compress initramfs: this build of imgkit has no ${method} encoder`);
  yield await codec.encode(await collect(chunks), eo);
}

/** One segment of an initramfs image. */
export interface Segment {
  /** Offset of the segment in the image. */
  readonly offset: number;
  /** Bytes of the image it occupies (compressed size, or archive size up to and including the trailer). */
  readonly size: number;
  readonly compression: InitramfsCompression;
  /** Decompressed bytes (equal to `size` when uncompressed). */
  readonly rawSize: number;
  /** The archives in it (usually one), each ending with its trailer. */
  readonly archives: number;
  /** Where each archive's entries start in `records` (0 first): the kernel forgets hard links at each trailer. */
  readonly archiveStarts: readonly number[];
  /**
   * Entries in order. For a compressed segment, `entry.offset` is an offset in the decompressed
   * data; for an uncompressed one, in the image.
   */
  readonly records: readonly CpioRecord[];
}

export interface WalkOptions {
  /**
   * Largest decompressed size of all the compressed segments together, in bytes (default 1 GiB, the
   * codecs' `maxOutput`). The segment that would take the total past it is a `FormatError` with
   * code `LIMIT` at that segment's offset, raised before the excess is allocated.
   */
  maxOutput?: number;
  verifyChecksums?: boolean;
}

const METHOD_OF: Partial<Record<CompressionId, InitramfsCompression>> = {
  gzip: 'gzip', xz: 'xz', lzma: 'lzma', zstd: 'zstd', 'lz4-legacy': 'lz4', bzip2: 'bzip2',
};

/**
 * Walks every segment of an initramfs image the way the kernel does.
 *
 * @example
 * ```ts
 * for (const seg of await walkInitramfs(await readFile('initrd.img')))
 *   console.log(seg.offset, seg.compression, seg.records.length);
 * ```
 */
export async function walkInitramfs(image: Uint8Array, opts: WalkOptions = {}): Promise<Segment[]> {
  const segments: Segment[] = [];
  let pos = 0;
  const verifyChecksums = opts.verifyChecksums ?? true;
  // one budget for the whole image: every decoded segment is kept (the records point into it)
  const maxOutput = maxOutputOf(opts);
  let decoded = 0;
  while (pos < image.length) {
    if (image[pos] === 0) {
      pos++;
      continue;
    }
    if (image[pos] === 0x30 && pos % 4 === 0) {
      // an uncompressed archive; zero padding and further archives follow at the top level
      const { records, end } = decodeCpio(image, pos, { verifyChecksums });
      segments.push({ offset: pos, size: end - pos, compression: 'none', rawSize: end - pos, archives: 1, archiveStarts: [0], records });
      pos = end;
      continue;
    }
    const id = detectCompression(image.subarray(pos, pos + 16));
    const method = id && METHOD_OF[id];
    if (!id || !method)
      throw new FormatError('initramfs', id ? 'UNSUPPORTED' : 'BAD_MAGIC', pos,
        id ? `Cannot unpack segment: ${id} is not an initramfs compression the kernel reads` : `Cannot unpack segment: invalid magic at start of compressed archive (${hex(image, pos)})`);
    const { data, end } = await decodeSegment(image, pos, id, maxOutput - decoded).catch((e: unknown) => {
      throw e instanceof FormatError && e.code === 'LIMIT' ? limitError(pos, method, e.detail, maxOutput, decoded, e) : e;
    });
    if (data.length > maxOutput - decoded) throw limitError(pos, method, `its output of ${data.length} bytes exceeds the ${maxOutput - decoded} left`, maxOutput, decoded);
    decoded += data.length;
    const seg = decodeArchives(data, pos, verifyChecksums);
    segments.push({ offset: pos, size: end - pos, compression: method, rawSize: data.length, archives: seg.archiveStarts.length, archiveStarts: seg.archiveStarts, records: seg.records });
    pos = end;
  }
  return segments;
}

/** LIMIT for the compressed segment at `pos`, naming the budget the earlier segments used up. */
function limitError(pos: number, method: InitramfsCompression, detail: string, max: number, decoded: number, cause?: FormatError): FormatError {
  const shared = decoded > 0 ? ` (the ${decoded} bytes decoded from the segments before it count against maxOutput of ${max})` : '';
  return new FormatError('initramfs', 'LIMIT', pos, `Cannot unpack ${method} segment: ${detail}${shared}`, cause && { cause });
}

const hex = (b: Uint8Array, at: number): string => Array.from(b.subarray(at, at + 4), (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Archives inside one decompressed segment: archive (zeros archive)*, ending on an entry boundary. */
function decodeArchives(data: Uint8Array, segAt: number, verifyChecksums: boolean): { records: CpioRecord[]; archiveStarts: number[] } {
  const records: CpioRecord[] = [];
  const archiveStarts: number[] = [];
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) {
      at++;
      continue;
    }
    if (data[at] !== 0x30)
      throw new FormatError('initramfs', 'BAD_FIELD', segAt, `Cannot unpack segment: junk within compressed archive at decompressed offset 0x${at.toString(16)}`);
    try {
      const r = decodeCpio(data, at, { verifyChecksums });
      archiveStarts.push(records.length);
      for (const rec of r.records) records.push(rec); // not push(...): a spread of 130 000 arguments overflows the stack
      at = r.end;
    } catch (e) {
      // offsets inside decompressed data mean little to a reader of the image: name the segment
      if (e instanceof FormatError)
        throw new FormatError('initramfs', e.code, segAt, `Cannot unpack compressed segment: ${e.detail} at decompressed offset 0x${e.offset.toString(16)}`, { cause: e });
      throw e;
    }
  }
  return { records, archiveStarts };
}

/**
 * Decodes the compressed segment at `pos` and finds where it ends. The codecs decode whole
 * streams, so the end is found per format: the xz stream footer; the lz4 legacy block chain;
 * for lzma, the input liblzma took up to the end marker or the stated size (as the kernel's
 * unlzma); for gzip and zstd, the codec reports the first byte after its last member or frame.
 */
async function decodeSegment(image: Uint8Array, pos: number, id: CompressionId, maxOutput: number): Promise<{ data: Uint8Array; end: number }> {
  const codec = await getCodec(id);
  const dopts = { maxOutput };
  const rest = image.subarray(pos);
  const rebase = (e: unknown): unknown =>
    e instanceof FormatError ? new FormatError(e.format, e.code, pos + e.offset, e.detail, { cause: e }) : e;
  if (id === 'lzma') {
    const { decodeLzmaSegment } = await import('../codec/lzma.js');
    try {
      const { data, end } = await decodeLzmaSegment(rest, dopts);
      return { data, end: pos + end };
    } catch (e) {
      throw rebase(e);
    }
  }
  let end: number | undefined = id === 'xz' ? xzEnd(rest) : id === 'lz4-legacy' ? lz4LegacyEnd(rest) : undefined;
  if (end !== undefined) {
    try {
      return { data: await codec.decode(rest.subarray(0, end), dopts), end: pos + end };
    } catch (e) {
      throw rebase(e);
    }
  }
  try {
    return { data: await codec.decode(rest, dopts), end: image.length };
  } catch (e) {
    // "non-zero bytes follow the end of the stream" (gzip) / a frame magic expected (zstd): the
    // stream ended there; decode exactly that much
    if (!(e instanceof FormatError) || e.offset <= 0 || e.offset >= rest.length || (e.code !== 'BAD_FIELD' && e.code !== 'BAD_MAGIC')) throw rebase(e);
    end = e.offset;
    try {
      return { data: await codec.decode(rest.subarray(0, end), dopts), end: pos + end };
    } catch (inner) {
      // the stream did end there, and what it holds is too large or corrupt: say so; otherwise
      // the first error, which says where the stream stopped making sense
      const about = inner instanceof FormatError && (inner.code === 'LIMIT' || inner.code === 'BAD_CHECKSUM');
      throw rebase(about ? inner : e);
    }
  }
}

/**
 * End of the first .xz stream: the 12-byte stream footer (CRC32, backward size, flags, "YZ")
 * at a 4-aligned offset whose CRC32 matches and whose flags equal the header's.
 */
function xzEnd(b: Uint8Array): number | undefined {
  if (b.length < 24) return undefined;
  const flags0 = b[6]!;
  const flags1 = b[7]!;
  for (let at = 12 + 12; at <= b.length; at += 4) {
    if (b[at - 2] !== 0x59 || b[at - 1] !== 0x5a || b[at - 4] !== flags0 || b[at - 3] !== flags1) continue;
    const stored = b[at - 12]! + b[at - 11]! * 0x100 + b[at - 10]! * 0x10000 + b[at - 9]! * 0x1000000;
    if (crc32(b.subarray(at - 8, at - 2)) === stored) return at;
  }
  return undefined;
}

/**
 * End of an lz4 legacy stream (magic 02 21 4c 18, then blocks of u32le size + data): the chain
 * stops at the end of input, at a zero or implausible size, or where the data would run past
 * the input. The kernel's unlz4 reads to the end of the buffer, so in practice lz4 comes last.
 */
function lz4LegacyEnd(b: Uint8Array): number | undefined {
  const MAX = 8 * 1024 * 1024 + 8 * 1024 * 1024 / 255 + 16; // LZ4_compressBound(8 MiB)
  let at = 4;
  while (at + 4 <= b.length) {
    const n = b[at]! + b[at + 1]! * 0x100 + b[at + 2]! * 0x10000 + b[at + 3]! * 0x1000000;
    if (n === 0x184c2102) {
      at += 4; // another legacy magic: the stream goes on
      continue;
    }
    if (n === 0 || n > MAX) break;
    if (at + 4 + n > b.length) return b.length; // truncated: the codec says where
    at += 4 + n;
  }
  return at;
}
