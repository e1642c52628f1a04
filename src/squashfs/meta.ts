/**
 * Metadata blocks: a table is a byte stream cut into 8 KiB pieces, each stored as a u16 header
 * (bit 15 = stored uncompressed, low 15 bits = bytes on disk) and its payload. A reference
 * {block, offset} names the block by its distance from the table start and a byte inside it.
 */
import { FormatError } from '../bytes/errors.js';
import { readAtNow, type RandomAccess } from '../bytes/random.js';
import { nativeCodecs } from '../codec/native.js';
import type { BlockCodec } from './compressor.js';
import { FORMAT, META_UNCOMPRESSED, METADATA_SIZE, type CompressorName, type MetaRef } from './layout.js';

/** The native addon's decoder numbers (native/imgkit.c decodeAsync). */
export const NATIVE_DECODER: Partial<Record<CompressorName, number>> = { gzip: 1, zstd: 2, lz4: 3, xz: 4 };

/** One decoded metadata block and where the next one starts. */
export interface MetaBlock {
  readonly data: Uint8Array;
  /** Absolute offset of the following block. */
  readonly next: number;
  /** A view of `data`, made once per block (decoders read through it). */
  readonly dv: DataView;
}

// a plain Uint8Array view, not the codec's Buffer: the decoders take many small views of a block,
// and Buffer's subarray is several times slower than Uint8Array's
const metaBlock = (data: Uint8Array, next: number): MetaBlock => ({
  data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  next,
  dv: new DataView(data.buffer, data.byteOffset, data.byteLength),
});

/**
 * Thrown by {@link MetaSeq.take} when a block it needs is not in memory. Never escapes this module's
 * callers: the async readers load the blocks from `at` on (enough for `need` more bytes) and retry.
 */
export class MetaMiss {
  constructor(
    readonly at: number,
    readonly need: number,
  ) {}
}

/**
 * Reads metadata blocks of one image, keeping the most recently used ones, and the tables that
 * {@link MetaReader.preload} decoded whole. Every block must lie inside the byte range of the
 * table it belongs to (`[start, end)`).
 */
export class MetaReader {
  readonly #cache = new Map<number, Promise<MetaBlock> | MetaBlock>();
  /** Blocks of preloaded tables, kept for the reader's lifetime. */
  readonly #pinned = new Map<number, MetaBlock>();
  constructor(
    readonly ra: RandomAccess,
    readonly codec: BlockCodec,
    /** Added to every offset read (an image embedded at an offset). */
    readonly base = 0,
    readonly cacheSize = 256,
  ) {}

  /** The block at absolute image offset `at`, which must end by `end`. */
  block(at: number, end: number): Promise<MetaBlock> {
    const pinned = this.#pinned.get(at);
    if (pinned) return Promise.resolve(pinned);
    let p = this.#cache.get(at);
    if (p) {
      this.#cache.delete(at); // LRU: move to the back
      this.#cache.set(at, p);
      return Promise.resolve(p);
    }
    const load = this.#load(at, end);
    this.#cache.set(at, load);
    load.then(
      (b) => {
        if (this.#cache.get(at) === load) this.#cache.set(at, b);
      },
      () => this.#cache.delete(at),
    );
    if (this.#cache.size > this.cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return load;
  }

  /** The block at `at` when it is already decoded, else undefined. */
  blockNow(at: number): MetaBlock | undefined {
    const b = this.#pinned.get(at) ?? this.#cache.get(at);
    return b instanceof Promise ? undefined : b;
  }

  async #load(at: number, end: number): Promise<MetaBlock> {
    if (at + 2 > end) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read metadata block: it starts past the end of its table (0x${end.toString(16)})`);
    // the header and the most a payload can be, in one read
    const h = await readAtNow(this.ra, this.base + at, Math.min(end - at, 2 + METADATA_SIZE));
    const header = h[0]! | (h[1]! << 8);
    const size = header & 0x7fff;
    const stored = (header & META_UNCOMPRESSED) !== 0;
    if (size === 0 || size > METADATA_SIZE)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read metadata block: stored size ${size} is outside 1..${METADATA_SIZE}`);
    if (at + 2 + size > end)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read metadata block: its ${size} bytes run past the end of its table (0x${end.toString(16)})`);
    const raw = h.subarray(2, 2 + size);
    if (stored) return metaBlock(raw.slice(), at + 2 + size);
    // 8 KiB decode faster here than a trip to the thread pool takes, where the codec can
    const sync = await this.codec.syncDecompressor();
    return metaBlock(sync ? sync(raw, METADATA_SIZE, at + 2) : await this.codec.decompress(raw, METADATA_SIZE, at + 2), at + 2 + size);
  }

  /**
   * Decodes the whole table `[start, end)` with one read and keeps its blocks, as unsquashfs does
   * with the inode and directory tables, so that walking a tree needs no further I/O. Stops quietly
   * at the first block that does not decode, or when the next block would take the decoded size
   * past `budget` bytes: the blocks after it are read one by one when asked for, and report their
   * errors then. Returns the bytes decoded.
   */
  async preload(start: number, end: number, budget: number): Promise<number> {
    if (end <= start || end - start > budget) return 0;
    const raw = await readAtNow(this.ra, this.base + start, end - start);
    const blocks: { at: number; stored: boolean; payload: Uint8Array }[] = [];
    for (let at = start; at + 2 <= end && (blocks.length + 1) * METADATA_SIZE <= budget; ) {
      const header = raw[at - start]! | (raw[at - start + 1]! << 8);
      const size = header & 0x7fff;
      if (size === 0 || size > METADATA_SIZE || at + 2 + size > end) break;
      blocks.push({ at, stored: (header & META_UNCOMPRESSED) !== 0, payload: raw.subarray(at - start + 2, at - start + 2 + size) });
      at += 2 + size;
    }
    let decoded = 0;
    let failed = false;
    // with the native addon, every block at once on the thread pool (libdeflate for gzip): a
    // block it does not take as exactly one valid stream ends the run, for block() to report
    const native = nativeCodecs();
    const id = NATIVE_DECODER[this.codec.name];
    if (native?.decodeAsync && id !== undefined && ((native.decoders ?? 0) & (1 << id)) !== 0) {
      const decode = native.decodeAsync;
      const done = await Promise.allSettled(blocks.map((b) => (b.stored ? b.payload : (decode(b.payload, id, METADATA_SIZE, -1, 0) as Promise<Uint8Array>))));
      for (let i = 0; i < blocks.length; i++) {
        const d = done[i]!;
        if (d.status === 'rejected' || d.value.length === 0) break;
        const b = blocks[i]!;
        this.#pinned.set(b.at, metaBlock(d.value, b.at + 2 + b.payload.length));
        decoded += d.value.length;
      }
      return decoded;
    }
    // 8 KiB blocks decode faster here than a trip to the thread pool takes, where the codec can;
    // else a few at a time, in parallel
    const sync = await this.codec.syncDecompressor();
    let next = 0;
    const worker = async () => {
      while (next < blocks.length && !failed) {
        const b = blocks[next++]!;
        try {
          const data = b.stored ? b.payload : sync ? sync(b.payload, METADATA_SIZE, b.at + 2) : await this.codec.decompress(b.payload, METADATA_SIZE, b.at + 2);
          this.#pinned.set(b.at, metaBlock(data, b.at + 2 + b.payload.length));
          decoded += data.length;
        } catch {
          failed = true; // left to block(), which reports the error when the block is needed
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(sync ? 1 : 8, blocks.length) }, worker));
    return decoded;
  }

  /**
   * The preloaded blocks of the table `[start, end)` as one buffer, and where each block starts in
   * it (keyed by the block's offset from `start`): full 8 KiB blocks from the first on, up to and
   * including the first shorter one or the last one preloaded. Bytes that run past a block's end
   * then continue as {@link MetaSeq.take} continues them. Undefined when the first block is not preloaded.
   */
  pinnedRun(start: number, end: number): { bytes: Uint8Array; blocks: Map<number, number> } | undefined {
    const run: MetaBlock[] = [];
    for (let at = start; at < end; ) {
      const b = this.#pinned.get(at);
      if (!b) break;
      run.push(b);
      if (b.data.length !== METADATA_SIZE) break;
      at = b.next;
    }
    if (run.length === 0) return undefined;
    const bytes = new Uint8Array(run.reduce((n, b) => n + b.data.length, 0));
    const blocks = new Map<number, number>();
    let pos = 0, at = start;
    for (const b of run) {
      blocks.set(at - start, pos);
      bytes.set(b.data, pos);
      pos += b.data.length;
      at = b.next;
    }
    return { bytes, blocks };
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
    const s = new MetaSeq(this, tableStart, tableEnd);
    for (;;) {
      s.seek(ref);
      try {
        const p = s.take(length, what);
        return { bytes: s.bytes.subarray(p, p + length), end: { block: s.block, offset: s.offset } };
      } catch (e) {
        if (!(e instanceof MetaMiss)) throw e;
        await s.load(e);
      }
    }
  }
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);

/**
 * Consecutive bytes of one table from a reference, read synchronously from blocks in memory: the
 * decoders of inodes and listings run on it. `take` throws {@link MetaMiss} for a block that is
 * not loaded yet; async callers then `load` it and decode again from the start.
 */
export class MetaSeq {
  /** The bytes (and a view of them) that the last `take` returned a position in. */
  bytes: Uint8Array = EMPTY;
  dv: DataView = EMPTY_VIEW;
  /** Absolute offset of the block the last `take` started in. */
  at = 0;
  /** The reference of the next byte. */
  block = 0;
  offset = 0;
  /** Blocks loaded for this reader's own reads, kept even when the shared cache drops them. */
  #own: Map<number, MetaBlock> | undefined;
  #lastAt = -1;
  #last: MetaBlock | undefined;

  constructor(
    readonly meta: MetaReader,
    readonly start: number,
    readonly end: number,
  ) {}

  seek(ref: MetaRef): this {
    this.block = ref.block;
    this.offset = ref.offset;
    return this;
  }

  #get(at: number, need: number): MetaBlock {
    if (at === this.#lastAt) return this.#last!;
    const b = this.meta.blockNow(at) ?? this.#own?.get(at);
    if (!b) throw new MetaMiss(at, need);
    // consecutive reads mostly stay in one block; a block in memory does not change
    this.#lastAt = at;
    this.#last = b;
    return b;
  }

  /**
   * Takes `n` bytes and returns their position in `this.bytes` / `this.dv`. A run inside one block
   * is a view of it; a run across blocks is copied.
   */
  take(n: number, what: string): number {
    const at = this.start + this.block;
    const b = this.#get(at, this.offset + n);
    const off = this.offset;
    const len = b.data.length;
    if (off > len || (off === len && n > 0 && len < METADATA_SIZE))
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read ${what}: offset ${off} is past the end of its ${len}-byte metadata block`);
    this.at = at;
    if (off + n <= len) {
      this.bytes = b.data;
      this.dv = b.dv;
      this.offset = off + n;
      return off;
    }
    // a block on disk takes at least 3 bytes (header and payload) and unpacks to at most 8 KiB
    if (n > Math.ceil((this.end - this.start) / 3) * METADATA_SIZE + METADATA_SIZE * 4)
      throw new FormatError(FORMAT, 'LIMIT', at, `Cannot read ${what}: ${n} bytes exceed the size of its table`);
    const out = new Uint8Array(n);
    let cur = b, curAt = at, o = off, filled = 0;
    for (;;) {
      const k = Math.min(n - filled, cur.data.length - o);
      out.set(cur.data.subarray(o, o + k), filled);
      filled += k;
      o += k;
      if (filled === n) break;
      if (cur.data.length !== METADATA_SIZE)
        throw new FormatError(FORMAT, 'TRUNCATED', curAt, `Cannot read ${what}: the metadata ends ${n - filled} bytes early`);
      curAt = cur.next;
      cur = this.#get(curAt, n - filled);
      o = 0;
    }
    this.block = curAt - this.start;
    this.offset = o;
    this.bytes = out;
    this.dv = new DataView(out.buffer);
    return 0;
  }

  /** Loads the blocks a failed `take` needed: from `miss.at` on, until they hold `miss.need` bytes. */
  async load(miss: MetaMiss): Promise<void> {
    const own = (this.#own ??= new Map());
    let at = miss.at;
    // past the bound take() checks, one block is enough for it to report the LIMIT error
    let need = miss.need > Math.ceil((this.end - this.start) / 3) * METADATA_SIZE ? 1 : miss.need;
    for (;;) {
      const b = this.meta.blockNow(at) ?? own.get(at) ?? (await this.meta.block(at, this.end));
      own.set(at, b);
      need -= b.data.length;
      if (need <= 0 || b.data.length !== METADATA_SIZE) return;
      at = b.next;
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
    return this.refNow()!;
  }

  /** {@link ref} when no full block waits to be flushed (then `flush()` first): no promise for a writer appending many small records. */
  refNow(): MetaRef | undefined {
    return this.#fill < METADATA_SIZE ? { block: this.#compressedBytes, offset: this.#fill } : undefined;
  }

  /** Appends bytes without flushing; true when a full block now waits for {@link flush}. */
  push(bytes: Uint8Array): boolean {
    if (this.#fill + bytes.length > this.#cache.length) {
      const bigger = new Uint8Array(Math.max(this.#cache.length * 2, this.#fill + bytes.length + METADATA_SIZE));
      bigger.set(this.#cache.subarray(0, this.#fill));
      this.#cache = bigger;
    }
    this.#cache.set(bytes, this.#fill);
    this.#fill += bytes.length;
    this.total += bytes.length;
    return this.#fill >= METADATA_SIZE;
  }

  /** Compresses the full blocks waiting. */
  flush(): Promise<void> {
    return this.#flushFull();
  }

  /** Appends bytes; call `ref()` before to learn where they start. */
  async append(bytes: Uint8Array): Promise<void> {
    if (this.push(bytes)) await this.#flushFull();
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
