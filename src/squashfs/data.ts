/**
 * File data: blocks, sparse blocks, fragments (tail packing) and whole-file deduplication, with
 * mksquashfs 4.5's decisions: files smaller than a block go into fragment blocks (tails of larger
 * files too with -always-use-fragments), all-zero blocks become holes (size word 0), a file whose
 * bytes equal an earlier file's shares its blocks and fragment, and a full fragment block is
 * written where the data stands when the next tail does not fit.
 *
 * Part 2 hook: `compress` is the only CPU-heavy step and runs per block; a pool can run it ahead
 * in file order as long as results are written in order.
 */
import { createHash } from 'node:crypto';
import type { ByteSink } from '../bytes/sink.js';
import { payloadChunks, type Payload } from '../bytes/payload.js';
import type { BlockCodec } from './compressor.js';
import type { FragmentEntry } from './fragment.js';
import { BLOCK_UNCOMPRESSED } from './layout.js';

export interface DataOptions {
  blockSize: number;
  noDataCompression: boolean;
  noFragmentCompression: boolean;
  noFragments: boolean;
  alwaysUseFragments: boolean;
  noDuplicates: boolean;
  noSparse: boolean;
}

/** Where a file's bytes went. */
export interface FileData {
  readonly size: number;
  readonly startBlock: number;
  readonly blocks: readonly number[];
  readonly fragment: number | undefined;
  readonly fragmentOffset: number;
  /** Bytes stored as holes. */
  readonly sparse: number;
}

/** What reading a file block by block found. */
interface Scan {
  /** Block count and each block's digest ("0" for a hole, whatever its length). */
  key: string;
  keyCount: number;
  /** Digest of the first block. */
  first: string;
  blocks: number[];
  start: number;
  sparse: number;
  tail: Uint8Array | undefined;
  tailKey: string | undefined;
}

/** One open fragment block being filled. */
interface FragmentStream {
  buf: Uint8Array;
  fill: number;
  /** Index of the open block in the fragment table, or -1 when none is open. */
  index: number;
}

export class DataWriter {
  readonly fragments: FragmentEntry[] = [];
  /**
   * mksquashfs 4.5 fills two fragment blocks at once: one with whole small files, one with the
   * tails of larger files (-always-use-fragments); at the end the small-file block is written first.
   */
  readonly #small: FragmentStream;
  readonly #tails: FragmentStream;
  readonly #fragSeen = new Map<string, { index: number; offset: number }>();
  /** Latest file stored with a given block-list key, block counts seen, and the key of each file's tail. */
  readonly #byBlocks = new Map<string, FileData>();
  readonly #byBlockCount = new Set<number>();
  readonly #firstBlocks = new Set<string>();
  readonly #tailKey = new Map<FileData, string>();
  /** Files found to duplicate an earlier one. */
  duplicates = 0;

  constructor(
    readonly sink: ByteSink,
    /** Offset of the image in the sink: block addresses are relative to it. */
    readonly base: number,
    readonly codec: BlockCodec,
    readonly o: DataOptions,
  ) {
    this.#small = { buf: new Uint8Array(o.blockSize), fill: 0, index: -1 };
    this.#tails = { buf: new Uint8Array(o.blockSize), fill: 0, index: -1 };
  }

  get position(): number {
    return this.sink.position - this.base;
  }

  async #writeBlock(block: Uint8Array, stored: boolean): Promise<number> {
    const c = stored ? undefined : await this.codec.compress(block);
    const out = c ?? block;
    await this.sink.writev([c ? out : out.slice()]);
    return c ? out.length : out.length + BLOCK_UNCOMPRESSED;
  }

  /**
   * Stores one file's bytes. `content` must produce exactly `size` bytes. `allocated` is what the
   * host file system allocated (st_blocks × 512): holes of a file that was not sparse there are
   * stored but not reported (mksquashfs write_file_blocks).
   *
   * Deduplication follows mksquashfs 4.5.1's duplicate(): a file whose block list (every block's
   * bytes, holes of any length counting as equal) matches an earlier file's shares its blocks, and
   * its tail is looked up among the fragments on its own, so a partial match still saves the blocks.
   */
  async addFile(content: Payload, size: number, allocated?: number): Promise<FileData> {
    const bs = this.o.blockSize;
    if (size === 0) return { size: 0, startBlock: 0, blocks: [], fragment: undefined, fragmentOffset: 0, sparse: 0 };
    const fragmentTail = !this.o.noFragments && (size < bs || (this.o.alwaysUseFragments && size % bs !== 0));
    const nBlocks = fragmentTail ? Math.floor(size / bs) : Math.ceil(size / bs);
    const dedup = !this.o.noDuplicates;
    const report = (sparse: number) => (sparse > 0 && allocated !== undefined && allocated >= size ? 0 : sparse);

    // an earlier file with as many blocks may share them: find out before writing anything
    let match: FileData | undefined;
    let pre: Scan | undefined;
    if (dedup && nBlocks > 0 && this.#byBlockCount.has(nBlocks)) {
      pre = await this.#scan(content, size, fragmentTail, undefined);
      // pre_duplicate(): only an entry with the expected block count and the same first block lets
      // duplicate() run; an all-zero tail stored as a block makes the real count one more
      if (this.#firstBlocks.has(`${nBlocks}:${pre.first}`)) match = this.#byBlocks.get(pre.key);
    }
    let fd: FileData;
    if (match) {
      this.duplicates++;
      const sameTail = pre!.tail === undefined ? match.fragment === undefined : match.fragment !== undefined && this.#tailKey.get(match) === pre!.tailKey;
      if (sameTail && match.size === size) return match; // the whole file
      let fragment: number | undefined, fragmentOffset = 0;
      if (pre!.tail) ({ index: fragment, offset: fragmentOffset } = await this.#addFragment(size < bs ? this.#small : this.#tails, pre!.tail));
      fd = { size, startBlock: match.startBlock, blocks: match.blocks, fragment, fragmentOffset, sparse: report(pre!.sparse) };
    } else {
      const w = await this.#scan(content, size, fragmentTail, this.position);
      fd = { size, startBlock: w.blocks.length ? w.start : 0, blocks: w.blocks, fragment: undefined, fragmentOffset: 0, sparse: report(w.sparse) };
      if (w.tail) {
        const f = await this.#addFragment(size < bs ? this.#small : this.#tails, w.tail);
        fd = { ...fd, fragment: f.index, fragmentOffset: f.offset };
      }
      pre = w;
    }
    if (dedup && pre!.keyCount > 0) {
      // mksquashfs puts each new entry at the head of its hash chain: the latest match wins
      this.#byBlocks.set(pre!.key, fd);
      // the count stored, which an all-zero tail makes one more than the count expected from the size
      this.#byBlockCount.add(pre!.keyCount);
      this.#firstBlocks.add(`${pre!.keyCount}:${pre!.first}`);
      if (pre!.tailKey !== undefined) this.#tailKey.set(fd, pre!.tailKey);
    }
    return fd;
  }

  /**
   * Reads a file block by block. With `start` set it writes the blocks (holes as size 0) and
   * returns their size words; without, it only computes the block-list key. The tail that goes in
   * a fragment is returned, not written.
   */
  async #scan(content: Payload, size: number, fragmentTail: boolean, start: number | undefined): Promise<Scan> {
    const bs = this.o.blockSize;
    const write = start !== undefined;
    const blocks: number[] = [];
    const keys: string[] = [];
    let sparse = 0;
    let tail: Uint8Array | undefined;
    const buf = new Uint8Array(bs);
    let fill = 0;
    let done = 0;
    const emit = async (block: Uint8Array, last: boolean) => {
      const zero = !this.o.noSparse && allZero(block);
      // an all-zero tail or small file becomes a hole, never a fragment (mksquashfs: fragment && c_byte)
      if (last && fragmentTail && !zero) {
        tail = block.slice();
        return;
      }
      if (zero) {
        sparse += block.length;
        keys.push('0');
        if (write) blocks.push(0);
      } else {
        keys.push(createHash('sha256').update(block).digest('base64'));
        if (write) blocks.push(await this.#writeBlock(block, this.o.noDataCompression));
      }
    };
    for await (const chunk of payloadChunks(content)) {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(bs - fill, chunk.length - at);
        buf.set(chunk.subarray(at, at + n), fill);
        fill += n;
        at += n;
        done += n;
        if (done > size) throw Object.assign(new Error(`file grew while being read (expected ${size} bytes)`), { code: 'EIO' });
        if (fill === bs) {
          await emit(buf, false);
          fill = 0;
        }
      }
    }
    if (done !== size) throw Object.assign(new Error(`file changed size while being read (expected ${size} bytes, read ${done})`), { code: 'EIO' });
    if (fill > 0) await emit(buf.subarray(0, fill), true);
    const tailKey = tail ? createHash('sha256').update(tail).digest('base64') : undefined;
    return { key: `${keys.length}:${keys.join(',')}`, keyCount: keys.length, first: keys[0] ?? '', blocks, start: start ?? 0, sparse, tail, tailKey };
  }

  async #addFragment(f: FragmentStream, tail: Uint8Array): Promise<{ index: number; offset: number }> {
    // mksquashfs also deduplicates fragments: a tail equal to an earlier one shares its bytes
    let key: string | undefined;
    if (!this.o.noDuplicates) {
      key = createHash('sha256').update(tail).digest('hex');
      const seen = this.#fragSeen.get(key);
      if (seen) return seen;
    }
    if (f.index >= 0 && f.fill + tail.length > this.o.blockSize) await this.#flush(f);
    if (f.index < 0) {
      f.index = this.fragments.length;
      f.fill = 0;
      this.fragments.push({ start: 0, size: 0 }); // placed when written
    }
    const offset = f.fill;
    f.buf.set(tail, offset);
    f.fill += tail.length;
    if (key !== undefined) this.#fragSeen.set(key, { index: f.index, offset });
    return { index: f.index, offset };
  }

  async #flush(f: FragmentStream): Promise<void> {
    if (f.index < 0) return;
    const start = this.position;
    const size = await this.#writeBlock(f.buf.subarray(0, f.fill), this.o.noFragmentCompression);
    this.fragments[f.index] = { start, size };
    f.index = -1;
  }

  /** Writes the open fragment blocks (at the end of the data). */
  async flushFragments(): Promise<void> {
    await this.#flush(this.#small);
    await this.#flush(this.#tails);
  }
}

function allZero(b: Uint8Array): boolean {
  const n = b.length - (b.length % 8);
  const words = b.byteOffset % 8 === 0 ? new BigUint64Array(b.buffer, b.byteOffset, n / 8) : undefined;
  if (words) {
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  } else for (let i = 0; i < n; i++) if (b[i] !== 0) return false;
  for (let i = n; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
