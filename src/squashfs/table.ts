/**
 * Lookup tables (fragment, export, id, xattr id): fixed-size entries packed into metadata blocks,
 * followed by an uncompressed array of u64 absolute offsets, one per block, which the superblock
 * points at. Entry i lives in block floor(i·size / 8192) at offset (i·size) mod 8192.
 */
import { ByteCursor } from '../bytes/cursor.js';
import { FormatError } from '../bytes/errors.js';
import { readAtNow, type RandomAccess } from '../bytes/random.js';
import type { BlockCodec } from './compressor.js';
import { encodeMetaBlock, type MetaReader } from './meta.js';
import { FORMAT, lookupBlocks, METADATA_SIZE } from './layout.js';

/** A lookup table read lazily, one metadata block at a time. */
export class LookupTable {
  private constructor(
    readonly meta: MetaReader,
    readonly name: string,
    readonly count: number,
    readonly entrySize: number,
    /** Absolute offsets of the metadata blocks. */
    readonly blocks: readonly number[],
    /** The blocks must end here (the index array). */
    readonly end: number,
  ) {}

  /**
   * Reads the index of a table of `count` entries at `indexAt`. Every block must lie after `after`
   * (the end of the previous table) and before the index itself.
   */
  static async open(ra: RandomAccess, meta: MetaReader, name: string, indexAt: number, count: number, entrySize: number, after: number, limitEnd: number): Promise<LookupTable> {
    const n = lookupBlocks(count, entrySize);
    if (indexAt + n * 8 > limitEnd)
      throw new FormatError(FORMAT, 'BAD_FIELD', indexAt, `Cannot read ${name} table index: ${n} entries run past 0x${limitEnd.toString(16)}`);
    const c = new ByteCursor(await readAtNow(ra, meta.base + indexAt, n * 8), FORMAT, indexAt);
    const blocks: number[] = [];
    let prev = after;
    for (let i = 0; i < n; i++) {
      const at = c.offset;
      const b = c.u64le(`${name} table index`);
      if (b < prev || b + 2 > indexAt)
        throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read ${name} table index: block offset 0x${b.toString(16)} is outside 0x${prev.toString(16)}..0x${indexAt.toString(16)}`);
      blocks.push(b);
      prev = b + 2;
    }
    return new LookupTable(meta, name, count, entrySize, blocks, indexAt);
  }

  /** The first block's offset (where this table's data starts), or the index when empty. */
  get start(): number {
    return this.blocks[0] ?? this.end;
  }

  /** Entry `i` as a cursor over its bytes. */
  async entry(i: number): Promise<ByteCursor> {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new FormatError(FORMAT, 'BAD_FIELD', this.end, `Cannot read ${this.name} entry ${i}: the table has ${this.count}`);
    const pos = i * this.entrySize;
    const k = Math.floor(pos / METADATA_SIZE);
    const at = this.blocks[k]!;
    const next = this.blocks[k + 1] ?? this.end;
    const b = await this.meta.block(at, next);
    const off = pos % METADATA_SIZE;
    const expect = Math.min(METADATA_SIZE, this.count * this.entrySize - k * METADATA_SIZE);
    if (b.data.length !== expect)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot read ${this.name} table: block holds ${b.data.length} bytes, expected ${expect}`);
    return new ByteCursor(b.data.subarray(off, off + this.entrySize), FORMAT, at);
  }
}

/**
 * generic_write_table(): the entries as metadata blocks placed at `at`, then the u64 index.
 * Returns the bytes to write in order and the offset of the index (what the superblock stores).
 */
export async function encodeLookupTable(entries: Uint8Array, at: number, codec: BlockCodec, uncompressed: boolean): Promise<{ chunks: Uint8Array[]; indexAt: number; size: number }> {
  const chunks: Uint8Array[] = [];
  const n = Math.ceil(entries.length / METADATA_SIZE);
  const index = new Uint8Array(n * 8);
  const dv = new DataView(index.buffer);
  let pos = at;
  for (let i = 0; i < n; i++) {
    const block = await encodeMetaBlock(entries.subarray(i * METADATA_SIZE, (i + 1) * METADATA_SIZE), codec, uncompressed);
    dv.setUint32(i * 8, pos % 0x1_0000_0000, true);
    dv.setUint32(i * 8 + 4, Math.floor(pos / 0x1_0000_0000), true);
    chunks.push(block);
    pos += block.length;
  }
  const indexAt = pos;
  chunks.push(index);
  return { chunks, indexAt, size: pos + index.length - at };
}
