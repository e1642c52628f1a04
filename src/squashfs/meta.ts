/**
 * Metadata blocks: a table is a byte stream cut into 8 KiB pieces, each stored as a u16 header
 * (bit 15 = stored uncompressed, low 15 bits = bytes on disk) and its payload. A reference
 * {block, offset} names the block by its distance from the table start and a byte inside it.
 */
import { FormatError } from '../bytes/errors.js';
import type { RandomAccess } from '../bytes/random.js';
import type { BlockCodec } from './compressor.js';
import { FORMAT, META_UNCOMPRESSED, METADATA_SIZE, type MetaRef } from './layout.js';

/** One decoded metadata block and where the next one starts. */
export interface MetaBlock {
  readonly data: Uint8Array;
  /** Absolute offset of the following block. */
  readonly next: number;
}

/**
 * Reads metadata blocks of one image, keeping the most recently used ones. Every block must lie
 * inside the byte range of the table it belongs to (`[start, end)`).
 */
export class MetaReader {
  readonly #cache = new Map<number, Promise<MetaBlock>>();
  constructor(
    readonly ra: RandomAccess,
    readonly codec: BlockCodec,
    /** Added to every offset read (an image embedded at an offset). */
    readonly base = 0,
    readonly cacheSize = 256,
  ) {}

  /** The block at absolute image offset `at`, which must end by `end`. */
  block(at: number, end: number): Promise<MetaBlock> {
    let p = this.#cache.get(at);
    if (p) {
      this.#cache.delete(at); // LRU: move to the back
      this.#cache.set(at, p);
      return p;
    }
    p = this.#load(at, end);
    this.#cache.set(at, p);
    p.catch(() => this.#cache.delete(at));
    if (this.#cache.size > this.cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return p;
  }

  async #load(at: number, end: number): Promise<MetaBlock> {
    if (at + 2 > end) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read metadata block: it starts past the end of its table (0x${end.toString(16)})`);
    const h = await this.ra.readAt(this.base + at, 2);
    const header = h[0]! | (h[1]! << 8);
    const size = header & 0x7fff;
    const stored = (header & META_UNCOMPRESSED) !== 0;
    if (size === 0 || size > METADATA_SIZE)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read metadata block: stored size ${size} is outside 1..${METADATA_SIZE}`);
    if (at + 2 + size > end)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read metadata block: its ${size} bytes run past the end of its table (0x${end.toString(16)})`);
    const raw = await this.ra.readAt(this.base + at + 2, size);
    const data = stored ? raw : await this.codec.decompress(raw, METADATA_SIZE, at + 2);
    return { data, next: at + 2 + size };
  }

  /**
   * `length` bytes of the table that starts at `tableStart` and ends at `tableEnd`, from `ref`.
   * Reads run on into the following blocks; every block but the last must hold exactly 8 KiB.
   */
  async read(tableStart: number, tableEnd: number, ref: MetaRef, length: number, what: string): Promise<Uint8Array> {
    const out = await this.readSpan(tableStart, tableEnd, ref, length, what);
    return out.bytes;
  }

  /** As `read`, and also the reference just past the bytes read. */
  async readSpan(tableStart: number, tableEnd: number, ref: MetaRef, length: number, what: string): Promise<{ bytes: Uint8Array; end: MetaRef }> {
    let at = tableStart + ref.block;
    let b = await this.block(at, tableEnd);
    if (ref.offset > b.data.length || (ref.offset === b.data.length && length > 0 && b.data.length < METADATA_SIZE))
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read ${what}: offset ${ref.offset} is past the end of its ${b.data.length}-byte metadata block`);
    let off = ref.offset;
    if (off + length <= b.data.length) {
      const bytes = b.data.subarray(off, off + length);
      return { bytes, end: { block: at - tableStart, offset: off + length } };
    }
    // a block on disk takes at least 3 bytes (header and payload) and unpacks to at most 8 KiB
    if (length > Math.ceil((tableEnd - tableStart) / 3) * METADATA_SIZE + METADATA_SIZE * 4)
      throw new FormatError(FORMAT, 'LIMIT', at, `Cannot read ${what}: ${length} bytes exceed the size of its table`);
    const out = new Uint8Array(length);
    let filled = 0;
    for (;;) {
      const n = Math.min(length - filled, b.data.length - off);
      out.set(b.data.subarray(off, off + n), filled);
      filled += n;
      off += n;
      if (filled === length) return { bytes: out, end: { block: at - tableStart, offset: off } };
      if (b.data.length !== METADATA_SIZE)
        throw new FormatError(FORMAT, 'TRUNCATED', at, `Cannot read ${what}: the metadata ends ${length - filled} bytes early`);
      at = b.next;
      b = await this.block(at, tableEnd);
      off = 0;
    }
  }
}

/**
 * Builds a metadata table in memory: bytes are appended to an 8 KiB cache, and each full block is
 * compressed (or stored, when compression does not shrink it) as soon as it fills, so the reference
 * of the next byte is always known, as mksquashfs's get_inode()/write_dir() do.
 */
export class MetaWriter {
  readonly #blocks: Uint8Array[] = [];
  readonly #starts: number[] = [];
  #compressedBytes = 0;
  #cache = new Uint8Array(METADATA_SIZE * 2);
  #fill = 0;
  /** Bytes appended so far (uncompressed). */
  total = 0;
  constructor(
    readonly codec: BlockCodec,
    readonly uncompressed: boolean,
  ) {}

  /** The reference the next appended byte will have. Full blocks are flushed first. */
  async ref(): Promise<MetaRef> {
    await this.#flushFull();
    return { block: this.#compressedBytes, offset: this.#fill };
  }

  /** Appends bytes; call `ref()` before to learn where they start. */
  async append(bytes: Uint8Array): Promise<void> {
    if (this.#fill + bytes.length > this.#cache.length) {
      const bigger = new Uint8Array(Math.max(this.#cache.length * 2, this.#fill + bytes.length + METADATA_SIZE));
      bigger.set(this.#cache.subarray(0, this.#fill));
      this.#cache = bigger;
    }
    this.#cache.set(bytes, this.#fill);
    this.#fill += bytes.length;
    this.total += bytes.length;
    await this.#flushFull();
  }

  async #flushFull(): Promise<void> {
    while (this.#fill >= METADATA_SIZE) {
      await this.#emit(this.#cache.slice(0, METADATA_SIZE));
      this.#cache.copyWithin(0, METADATA_SIZE, this.#fill);
      this.#fill -= METADATA_SIZE;
    }
  }

  /** Compressed offset (from the table start) of the block holding uncompressed position `pos`. */
  blockOffsetAt(pos: number): number {
    return this.#starts[Math.floor(pos / METADATA_SIZE)] ?? this.#compressedBytes;
  }

  async #emit(block: Uint8Array): Promise<void> {
    const packed = await encodeMetaBlock(block, this.codec, this.uncompressed);
    this.#starts.push(this.#compressedBytes);
    this.#blocks.push(packed);
    this.#compressedBytes += packed.length;
  }

  /** Flushes the last partial block; returns the blocks, ready to write, and their total size. */
  async finish(): Promise<{ blocks: Uint8Array[]; size: number }> {
    await this.#flushFull();
    if (this.#fill > 0) {
      await this.#emit(this.#cache.slice(0, this.#fill));
      this.#fill = 0;
    }
    return { blocks: this.#blocks, size: this.#compressedBytes };
  }
}

/** One metadata block with its u16 header (mksquashfs mangle(): stored when compression does not shrink it). */
export async function encodeMetaBlock(block: Uint8Array, codec: BlockCodec, uncompressed: boolean): Promise<Uint8Array> {
  const c = uncompressed ? undefined : await codec.compress(block);
  const payload = c ?? block;
  const out = new Uint8Array(2 + payload.length);
  const header = c ? payload.length : payload.length | META_UNCOMPRESSED;
  out[0] = header & 0xff;
  out[1] = header >> 8;
  out.set(payload, 2);
  return out;
}
