/**
 * File data: blocks, sparse blocks, fragments (tail packing) and whole-file deduplication, with
 * mksquashfs 4.5's decisions: files smaller than a block go into fragment blocks (tails of larger
 * files too with -always-use-fragments), all-zero blocks become holes (size word 0), a file whose
 * bytes equal an earlier file's shares its blocks and fragment, and a full fragment block is
 * written where the data stands when the next tail does not fit.
 *
 * Pipeline (issue 8): reading, hashing and dedup run here in file order; each block to store is
 * queued as a {@link Slot} and handed to a {@link Compressor} (a worker pool) at once; the queue is
 * written to the sink strictly in order as results come back. Block sizes and addresses are known
 * only once a slot is written, so addFile() returns a {@link PendingFile} that {@link DataWriter.resolve}
 * turns into a FileData once {@link DataWriter.written} says its slots are written. The queue holds
 * at most `window` bytes of uncompressed data (back-pressure on the reader), so memory does not grow
 * with file or image size.
 */
import { createHash } from 'node:crypto';
import type { ByteSink } from '../bytes/sink.js';
import { payloadChunks, type Payload } from '../bytes/payload.js';
import type { Compressor, Compressed } from './pool.js';
import type { FragmentEntry } from './fragment.js';
import type { StoredData } from './tree.js';
import { BLOCK_UNCOMPRESSED } from './layout.js';
import { garbageMeter } from './gc.js';

export interface DataOptions {
  blockSize: number;
  noDataCompression: boolean;
  noFragmentCompression: boolean;
  noFragments: boolean;
  alwaysUseFragments: boolean;
  noDuplicates: boolean;
  noSparse: boolean;
  /** Uncompressed bytes queued for compression and writing at most (default 4 MiB or 4 blocks). */
  window?: number;
  /** The sink is done with a chunk once its writev settles (file sinks), so written blocks' buffers can be reused. */
  reuseWritten?: boolean;
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

/**
 * A payload the writer can read at positions into its own buffer (host files: {@link hostFile}
 * in tree.ts). `readFully` fills the whole view or throws; `checkEnd` throws if the file grew.
 */
export interface DirectPayload {
  readonly size: number;
  open(): { readFully(into: Uint8Array, position: number): void; checkEnd(size: number): void; close(): void };
  /**
   * Reads the whole file into the start of `into` (at least `size` bytes; the byte after may be
   * overwritten), and throws if it is not `size` bytes long.
   */
  readAll?(into: Uint8Array): void;
}

/** One entry of the output queue: a block (or, with no bytes, a position marker). */
interface Slot {
  raw: number;
  job: Promise<Compressed> | undefined;
  stored: Uint8Array | undefined;
  /** Set when written: the address relative to the image and the block size word. */
  pos: number;
  word: number;
  /** Place in the output queue (slots are written in this order); -1 for slots written before this writer. */
  seq: number;
  /** The writer's buffer the compressed bytes may be written into (see #outputs). */
  out: Uint8Array | undefined;
}

/** Where a file's bytes will go, known once its slots are written. */
export interface PendingFile {
  readonly size: number;
  readonly start: Slot | undefined;
  readonly blocks: readonly (Slot | undefined)[];
  readonly fragment: number | undefined;
  readonly fragmentOffset: number;
  readonly sparse: number;
}

const NO_BLOCKS: readonly (Slot | undefined)[] = Object.freeze([]);
/** Offsets in a fragment block are below 2^21 (blocks are at most 1 MiB). */
const FRAG_INDEX = 2 ** 21;

const EMPTY_FILE: PendingFile = { size: 0, start: undefined, blocks: NO_BLOCKS, fragment: undefined, fragmentOffset: 0, sparse: 0 };

/** What reading a file block by block found. */
interface Scan {
  /** Block count and each block's digest ("0" for a hole, whatever its length). */
  key: string;
  keyCount: number;
  /** Digest of the first block. */
  first: string;
  blocks: (Slot | undefined)[];
  start: Slot | undefined;
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
  readonly #fragments: (Slot | undefined)[] = [];
  readonly #queue: Slot[] = [];
  #queued = 0;
  /** Slots numbered so far, and the number of the last one written. */
  #seq = 0;
  #doneSeq = -1;
  /** The one caller waiting for a slot to be written (the metadata writer, going through the files in data order). */
  #waiter: { seq: number; resolve: () => void } | undefined;
  #pos: number;
  readonly #window: number;
  readonly #block: Uint8Array;
  readonly #free: Uint8Array[] = [];
  /**
   * Block-sized buffers the compressor writes its results into, reused once written: no new
   * buffer per block, and none of the external memory whose growth sets off full collections
   * (real tree, zstd: ~3,000 blocks). Up to 256 KiB blocks (larger ones are few, and a second
   * buffer per block in flight would raise the peak), and only for sinks done with what they
   * wrote (a memory sink would keep a whole block-sized buffer per compressed block).
   */
  readonly #outputs: Uint8Array[] | undefined;
  readonly #meter = garbageMeter(16 << 20, 64 << 20);
  /**
   * mksquashfs 4.5 fills two fragment blocks at once: one with whole small files, one with the
   * tails of larger files (-always-use-fragments); at the end the small-file block is written first.
   */
  readonly #small: FragmentStream;
  readonly #tails: FragmentStream;
  /** Fragment tails stored so far by digest: index × 2^21 + offset (a number, not an object per tail). */
  readonly #fragSeen = new Map<string, number>();
  /** Latest file stored with a given block-list key, block counts seen, and the key of each file's tail. */
  readonly #byBlocks = new Map<string, PendingFile>();
  readonly #byBlockCount = new Set<number>();
  readonly #firstBlocks = new Set<string>();
  readonly #tailKey = new Map<PendingFile, string>();
  /** Files to come by block count (see {@link expect}); undefined: every file's blocks are hashed. */
  #counts: Map<number, number> | undefined;
  /** Files found to duplicate an earlier one. */
  duplicates = 0;

  constructor(
    readonly sink: ByteSink,
    /** Offset of the image in the sink: block addresses are relative to it. */
    readonly base: number,
    readonly compressor: Compressor,
    readonly o: DataOptions,
  ) {
    this.#pos = sink.position - base;
    this.#window = o.window ?? Math.max(4 << 20, 4 * o.blockSize);
    this.#block = new Uint8Array(o.blockSize);
    if (o.blockSize <= 256 << 10 && !o.noDataCompression && o.reuseWritten) this.#outputs = [];
    this.#small = { buf: new Uint8Array(o.blockSize), fill: 0, index: -1 };
    this.#tails = { buf: new Uint8Array(o.blockSize), fill: 0, index: -1 };
  }

  /** A block-sized buffer of the writer's: reused once the compressor or the sink is done with it. */
  #buffer(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.o.blockSize);
  }

  /**
   * Queues a copy of `block` (a marker when undefined), or `block` itself when `owned` (a buffer
   * from #buffer()); waits while the queue is over its window.
   */
  async #enqueue(block: Uint8Array | undefined, stored: boolean, owned = false): Promise<Slot> {
    let own: Uint8Array | undefined;
    if (owned) own = block;
    else if (block) {
      // block-sized buffers come back from the compressor and are reused: no garbage per block
      const buf = this.#buffer();
      buf.set(block);
      own = buf.subarray(0, block.length);
    }
    const out = own && !stored && this.#outputs ? (this.#outputs.pop() ?? new Uint8Array(this.o.blockSize)) : undefined;
    const slot: Slot = { raw: own?.length ?? 0, job: own && !stored ? this.compressor.compress(own, out) : undefined, stored: stored ? own : undefined, pos: 0, word: 0, seq: this.#seq++, out };
    this.#queue.push(slot);
    this.#queued += slot.raw;
    while (this.#queued > this.#window) await this.#writeOne();
    return slot;
  }

  async #writeOne(): Promise<void> {
    const s = this.#queue.shift()!;
    this.#queued -= s.raw;
    s.pos = this.#pos;
    let bytes: Uint8Array | undefined = s.stored;
    let compressed = false;
    let block = s.stored;
    if (s.job) ({ bytes, compressed, block } = await s.job);
    s.job = undefined;
    s.stored = undefined;
    if (bytes) {
      s.word = compressed ? bytes.length : bytes.length + BLOCK_UNCOMPRESSED;
      this.#pos += bytes.length;
    }
    // its address and size word are known: a file ending with it can be resolved
    this.#doneSeq = s.seq;
    if (this.#waiter && this.#waiter.seq <= s.seq) {
      this.#waiter.resolve();
      this.#waiter = undefined;
    }
    if (!bytes) return;
    this.#meter(s.raw);
    // a block at a time on this thread where the sink can: a thread-pool round trip per block cost
    // more than the write
    if (this.sink.writevSync) this.sink.writevSync([bytes]);
    else await this.sink.writev([bytes]);
    // a block written as is belongs to the sink unless it says otherwise; a compressed one is free
    if ((compressed || this.o.reuseWritten) && block && block.buffer.byteLength === this.o.blockSize && this.#free.length < 64) this.#free.push(new Uint8Array(block.buffer));
    // so is the output buffer (the sink is done with what it wrote: #outputs)
    const out = s.out;
    s.out = undefined;
    if (out && this.#outputs!.length < 64) this.#outputs!.push(out);
  }

  /** Writes the open fragment blocks and everything still queued. */
  async finish(): Promise<void> {
    await this.#flush(this.#small);
    await this.#flush(this.#tails);
    while (this.#queue.length) await this.#writeOne();
  }

  /** Appending: the old image's fragment blocks keep their indexes; new ones follow. */
  preloadFragments(entries: readonly FragmentEntry[]): void {
    if (this.#fragments.length) throw new TypeError('Cannot preload fragments: fragments were already added');
    for (const e of entries) this.#fragments.push({ raw: 0, job: undefined, stored: undefined, pos: e.start, word: e.size, seq: -1, out: undefined });
  }

  /** Appending: a file whose data stays where the old image has it. */
  storedFile(size: number, d: StoredData): PendingFile {
    const fixed = (pos: number, word: number): Slot => ({ raw: 0, job: undefined, stored: undefined, pos, word, seq: -1, out: undefined });
    return {
      size, start: fixed(d.startBlock, 0), blocks: d.blocks.map((w) => fixed(0, w)), fragment: d.fragment, fragmentOffset: d.fragmentOffset, sparse: d.sparse,
    };
  }

  /** Fragment table entries; complete after {@link finish}. */
  get fragments(): FragmentEntry[] {
    return this.#fragments.map((s) => ({ start: s!.pos, size: s!.word }));
  }

  /**
   * Undefined when every slot of `p` is written, else a promise settled once they are (the queue
   * moves as later files are added, and wholly at {@link finish}). One caller may wait at a time.
   */
  written(p: PendingFile): Promise<void> | undefined {
    let last = p.start?.seq ?? -1;
    for (let i = p.blocks.length - 1; i >= 0; i--) {
      const b = p.blocks[i];
      if (b) {
        last = Math.max(last, b.seq);
        break;
      }
    }
    if (last <= this.#doneSeq) return undefined;
    if (this.#waiter) throw new TypeError('Cannot wait for a file: another wait is under way');
    return new Promise((resolve) => (this.#waiter = { seq: last, resolve }));
  }

  /** Where a file's bytes went; call once {@link written} says so (after {@link finish}, always). */
  resolve(p: PendingFile): FileData {
    return {
      size: p.size, startBlock: p.start?.pos ?? 0, blocks: p.blocks.map((b) => b?.word ?? 0), fragment: p.fragment,
      fragmentOffset: p.fragmentOffset, sparse: p.sparse,
    };
  }

  /** Whether the end of a file of `size` bytes that is not a whole block goes to a fragment. */
  #fragmentTail(size: number): boolean {
    const bs = this.o.blockSize;
    return !this.o.noFragments && (size < bs || (this.o.alwaysUseFragments && size % bs !== 0));
  }

  /** Whole blocks a file of `size` bytes is stored in (its tail may go to a fragment). */
  #blockCount(size: number): number {
    return this.#fragmentTail(size) ? Math.floor(size / this.o.blockSize) : Math.ceil(size / this.o.blockSize);
  }

  /**
   * The sizes of all the files to be added, before the first: a file whose block count no other
   * file has, nor one more (an all-zero tail stored as a hole adds one to the count it is found
   * under), is never looked up by another, so its blocks are stored without being hashed (real
   * tree: most of the bytes, in a few large files).
   */
  expect(sizes: Iterable<number>): void {
    const counts = new Map<number, number>();
    for (const size of sizes) {
      const n = this.#blockCount(size);
      if (n > 0) counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    this.#counts = counts;
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
  addFile(content: Payload, size: number, allocated?: number): PendingFile | Promise<PendingFile> {
    if (size === 0) return EMPTY_FILE;
    const readAll = size < this.o.blockSize && !this.o.noFragments ? (content as Partial<DirectPayload>).readAll : undefined;
    if (typeof readAll === 'function') {
      // a small host file, wholly a fragment unless it is all zeros (a hole: the general path): read
      // at once, with no queue marker, scan state or block list of its own, and no promise unless
      // its fragment block fills (a tree holds tens of thousands of them)
      readAll.call(content, this.#block); // room for a byte more: see HostFile.readAll
      const view = this.#block.subarray(0, size);
      if (this.o.noSparse || !allZero(view)) {
        const key = this.o.noDuplicates ? undefined : digest(view);
        const at = this.#fragmentNow(this.#small, view, key);
        return at >= 0 ? this.#smallFile(size, at) : this.#addFragment(this.#small, view, key).then((f) => this.#smallFile(size, f));
      }
    }
    return this.#addFile(content, size, allocated);
  }

  #smallFile(size: number, at: number): PendingFile {
    return { size, start: undefined, blocks: NO_BLOCKS, fragment: Math.floor(at / FRAG_INDEX), fragmentOffset: at % FRAG_INDEX, sparse: 0 };
  }

  async #addFile(content: Payload, size: number, allocated: number | undefined): Promise<PendingFile> {
    const bs = this.o.blockSize;
    const fragmentTail = this.#fragmentTail(size);
    const nBlocks = this.#blockCount(size);
    const dedup = !this.o.noDuplicates;
    // whether a later file may look this one's blocks up (see expect)
    const counts = this.#counts;
    const lookedUp = dedup && (!counts || (counts.get(nBlocks) ?? 0) > 1 || counts.has(nBlocks + 1));
    const report = (sparse: number) => (sparse > 0 && allocated !== undefined && allocated >= size ? 0 : sparse);

    // an earlier file with as many blocks may share them: find out before writing anything
    let match: PendingFile | undefined;
    let pre: Scan | undefined;
    if (dedup && nBlocks > 0 && this.#byBlockCount.has(nBlocks)) {
      pre = await this.#scan(content, size, fragmentTail, false);
      // pre_duplicate(): only an entry with the expected block count and the same first block lets
      // duplicate() run; an all-zero tail stored as a block makes the real count one more
      if (this.#firstBlocks.has(`${nBlocks}:${pre.first}`)) match = this.#byBlocks.get(pre.key);
    }
    let fd: PendingFile;
    if (match) {
      this.duplicates++;
      const sameTail = pre!.tail === undefined ? match.fragment === undefined : match.fragment !== undefined && this.#tailKey.get(match) === pre!.tailKey;
      if (sameTail && match.size === size) return match; // the whole file
      let fragment: number | undefined, fragmentOffset = 0;
      if (pre!.tail) {
        const at = await this.#addFragment(size < bs ? this.#small : this.#tails, pre!.tail, pre!.tailKey);
        fragment = Math.floor(at / FRAG_INDEX);
        fragmentOffset = at % FRAG_INDEX;
      }
      fd = { size, start: match.start, blocks: match.blocks, fragment, fragmentOffset, sparse: report(pre!.sparse) };
    } else {
      const w = await this.#scan(content, size, fragmentTail, true, lookedUp);
      // small files have no blocks: one shared empty list rather than an array each
      fd = { size, start: w.blocks.length ? w.start : undefined, blocks: w.blocks.length ? w.blocks : NO_BLOCKS, fragment: undefined, fragmentOffset: 0, sparse: report(w.sparse) };
      if (w.tail) {
        const at = await this.#addFragment(size < bs ? this.#small : this.#tails, w.tail, w.tailKey);
        fd = { ...fd, fragment: Math.floor(at / FRAG_INDEX), fragmentOffset: at % FRAG_INDEX };
      }
      pre = w;
    }
    if (lookedUp && pre!.keyCount > 0) {
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
   * Reads a file block by block. With `write` it queues the blocks (holes as undefined) behind a
   * marker for the file's start; without, it only computes the block-list key. The tail that goes
   * in a fragment is returned, not written.
   */
  async #scan(content: Payload, size: number, fragmentTail: boolean, write: boolean, hash = true): Promise<Scan> {
    const bs = this.o.blockSize;
    const start = write ? await this.#enqueue(undefined, false) : undefined;
    const blocks: (Slot | undefined)[] = [];
    const keys: string[] = [];
    let sparse = 0;
    let tail: Uint8Array | undefined;
    const buf = this.#block; // one per writer: files are scanned one at a time
    let fill = 0;
    let done = 0;
    // `owned`: `block` is a buffer of the writer's, read into directly, which goes to the queue as it is
    const emit = async (block: Uint8Array, last: boolean, owned = false) => {
      const zero = !this.o.noSparse && allZero(block);
      // an all-zero tail or small file becomes a hole, never a fragment (mksquashfs: fragment && c_byte)
      if (last && fragmentTail && !zero) {
        // a view of the scan buffer: the caller copies it into a fragment block before the next scan
        tail = block;
        return;
      }
      if (zero) {
        sparse += block.length;
        keys.push('0');
        if (write) blocks.push(undefined);
      } else {
        keys.push(hash ? digest(block) : '');
        if (write) {
          blocks.push(await this.#enqueue(block, this.o.noDataCompression, owned));
          return;
        }
      }
      if (owned && this.#free.length < 64) this.#free.push(block);
    };
    const direct = 'open' in content && typeof content.open === 'function' ? (content as DirectPayload).open() : undefined;
    if (direct) {
      // host files are read straight into the block buffer: no chunk buffers, no copies
      try {
        while (done < size) {
          const n = Math.min(bs, size - done);
          if (n === bs) {
            // a whole block, read where it will be queued from: no copy
            const own = this.#buffer();
            direct.readFully(own, done);
            done += n;
            await emit(own, false, true);
          } else {
            direct.readFully(buf.subarray(0, n), done);
            done += n;
            fill = n;
          }
        }
        direct.checkEnd(size);
      } finally {
        direct.close();
      }
    } else for await (const chunk of payloadChunks(content)) {
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
    const tailKey = tail ? digest(tail) : undefined;
    return { key: `${keys.length}:${keys.join(',')}`, keyCount: keys.length, first: keys[0] ?? '', blocks, start, sparse, tail, tailKey };
  }

  /**
   * Places a tail in fragment block `f` (index × 2^21 + offset), or where an equal tail already
   * is; -1, having done nothing, when the open block must be written first ({@link #addFragment}).
   * `key`: the tail's digest, undefined without deduplication.
   */
  #fragmentNow(f: FragmentStream, tail: Uint8Array, key: string | undefined): number {
    // mksquashfs also deduplicates fragments: a tail equal to an earlier one shares its bytes
    if (key !== undefined) {
      const seen = this.#fragSeen.get(key);
      if (seen !== undefined) return seen;
    }
    if (f.index >= 0 && f.fill + tail.length > this.o.blockSize) return -1;
    if (f.index < 0) {
      f.index = this.#fragments.length;
      f.fill = 0;
      this.#fragments.push(undefined); // placed when written
    }
    const at = f.index * FRAG_INDEX + f.fill;
    f.buf.set(tail, f.fill);
    f.fill += tail.length;
    if (key !== undefined) this.#fragSeen.set(key, at);
    return at;
  }

  async #addFragment(f: FragmentStream, tail: Uint8Array, tailKey: string | undefined): Promise<number> {
    const key = this.o.noDuplicates ? undefined : (tailKey ?? digest(tail));
    let at = this.#fragmentNow(f, tail, key);
    if (at < 0) {
      await this.#flush(f);
      at = this.#fragmentNow(f, tail, key);
    }
    return at;
  }

  async #flush(f: FragmentStream): Promise<void> {
    if (f.index < 0) return;
    const index = f.index;
    f.index = -1;
    this.#fragments[index] = await this.#enqueue(f.buf.subarray(0, f.fill), this.o.noFragmentCompression);
  }
}

/** What deduplication compares: the bytes' SHA-256. */
const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('base64');

function allZero(b: Uint8Array): boolean {
  // 32-bit words: BigUint64Array would box every element as a BigInt, 20 times slower
  const n = b.byteOffset % 4 === 0 ? b.length - (b.length % 4) : 0;
  if (n > 0) {
    const words = new Uint32Array(b.buffer, b.byteOffset, n / 4);
    let acc = 0;
    for (let i = 0; i < words.length; i += 64) {
      const end = Math.min(words.length, i + 64);
      for (let j = i; j < end; j++) acc |= words[j]!;
      if (acc !== 0) return false;
    }
  }
  for (let i = n; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
