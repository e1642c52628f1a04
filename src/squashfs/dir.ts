/**
 * Directory table. A directory's listing is a run of headers, each followed by count + 1 entries:
 *
 *   header  u32 count (entries - 1, ≤ 255), u32 start_block (inode-table block of these entries), u32 inode_number (base)
 *   entry   u16 offset (in that inode block), s16 inode_number delta, u16 type (basic 1–7), u16 size (name length - 1), u8 name[]
 *
 * Names are sorted bytewise (strcmp). The inode's file_size is the listing length + 3.
 */
import { ByteCursor } from '../bytes/cursor.js';
import { FormatError } from '../bytes/errors.js';
import { MetaMiss, MetaSeq, type MetaReader } from './meta.js';
import { DIR_COUNT, FORMAT, METADATA_SIZE, NAME_MAX, TYPE_KIND, type FileKind, type MetaRef } from './layout.js';

export interface DirEntry {
  readonly name: Uint8Array;
  readonly kind: FileKind;
  readonly inode: MetaRef;
  readonly inodeNumber: number;
}

const HEADER_SIZE = 12;
const ENTRY_SIZE = 8;
/** Listings longer than this (about 40,000 entries) are checked in growing prefixes first. */
const LISTING_PREFIX = 1 << 20;

/** Reads and decodes a listing of `size - 3` bytes at `ref` of the directory table `[start, end)`. */
export async function readDirectory(meta: MetaReader, start: number, end: number, ref: MetaRef, size: number): Promise<DirEntry[]> {
  const s = new MetaSeq(meta, start, end);
  for (;;) {
    try {
      return readDirectoryAt(s, ref, size);
    } catch (e) {
      if (!(e instanceof MetaMiss)) throw e;
      await s.load(e);
    }
  }
}

/** As {@link readDirectory}, synchronously from the blocks in memory: a missing block is a {@link MetaMiss}. */
export function readDirectoryAt(s: MetaSeq, ref: MetaRef, size: number): DirEntry[] {
  if (size < 3) throw new FormatError(FORMAT, 'BAD_FIELD', s.start + ref.block, `Cannot parse directory: size ${size} is below 3`);
  const length = size - 3;
  if (length === 0) return [];
  // a long listing is first decoded in prefixes that double, each of which must hold only good
  // records (its last may be cut short): a listing that goes wrong early costs what it holds up to
  // there, not the gigabytes its size may claim
  for (let prefix = LISTING_PREFIX; prefix < length; prefix *= 2) {
    const p = s.seek(ref).take(prefix, 'directory listing');
    try {
      decodeListing(new ByteCursor(s.bytes.subarray(p, p + prefix), FORMAT, s.start + ref.block));
    } catch (e) {
      if (!(e instanceof FormatError) || e.code !== 'TRUNCATED') throw e;
    }
  }
  const p = s.seek(ref).take(length, 'directory listing');
  return decodeListing(new ByteCursor(s.bytes.subarray(p, p + length), FORMAT, s.start + ref.block));
}

/** Bytewise order (strcmp's): a loop, which for names of a few bytes beats Buffer.compare's checks. */
function compareNames(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function decodeListing(c: ByteCursor): DirEntry[] {
  const out: DirEntry[] = [];
  const dv = c.dv;
  // names are views of one private copy of the listing: one allocation per directory, not per
  // entry (tens of thousands of small ArrayBuffers cost the garbage collector more than the walk)
  const own = c.bytes.slice();
  let prev: Uint8Array | undefined;
  while (c.remaining > 0) {
    const h = c.record(HEADER_SIZE, 'directory header');
    const count = dv.getUint32(h, true) + 1, block = dv.getUint32(h + 4, true), base = dv.getUint32(h + 8, true);
    if (count > DIR_COUNT) throw new FormatError(FORMAT, 'BAD_FIELD', c.base + h, `Cannot parse directory header: ${count} entries exceed ${DIR_COUNT}`);
    for (let i = 0; i < count; i++) {
      const e = c.record(ENTRY_SIZE, 'directory entry');
      const offset = dv.getUint16(e, true), delta = dv.getInt16(e + 2, true), type = dv.getUint16(e + 4, true), nameSize = dv.getUint16(e + 6, true) + 1;
      const kind = TYPE_KIND[type];
      if (kind === undefined) throw new FormatError(FORMAT, 'BAD_FIELD', c.base + e + 4, `Cannot parse directory entry: type ${type} is not 1..7`);
      if (nameSize > NAME_MAX) throw new FormatError(FORMAT, 'BAD_FIELD', c.base + e + 6, `Cannot parse directory entry: name size ${nameSize} exceeds ${NAME_MAX}`);
      if (offset >= METADATA_SIZE) throw new FormatError(FORMAT, 'BAD_FIELD', c.base + e, `Cannot parse directory entry: inode offset ${offset} is past a metadata block`);
      const at = c.offset;
      const n = c.record(nameSize, 'directory entry name');
      const name = own.subarray(n, n + nameSize);
      if (name.includes(0x2f) || name.includes(0) || (nameSize <= 2 && name[0] === 0x2e && name[nameSize - 1] === 0x2e))
        throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse directory entry: name "${new TextDecoder().decode(name)}" is not a file name`);
      if (prev && compareNames(prev, name) >= 0)
        throw new FormatError(FORMAT, 'BAD_FIELD', at, 'Cannot parse directory entry: names are not sorted or not unique');
      prev = name;
      const inodeNumber = base + delta;
      if (inodeNumber < 1 || inodeNumber > 0xffff_ffff) throw new FormatError(FORMAT, 'BAD_FIELD', c.base + e + 2, `Cannot parse directory entry: inode number ${inodeNumber} is out of range`);
      out.push({ name, kind, inode: { block, offset }, inodeNumber });
    }
  }
  return out;
}

/** A directory index entry before the directory is placed: `startBlock` is filled by the table writer. */
export interface PendingIndex {
  index: number;
  name: Uint8Array;
  startBlock: number;
}

/**
 * Builds one directory's listing with mksquashfs 4.5's add_dir() rules: a new header after 256
 * entries, when the inode block changes, when the inode delta leaves s16, or when the bytes since
 * the last index point would pass 8 KiB, which also records an index entry.
 */
export class DirBuilder {
  #buf = new Uint8Array(1024);
  #p = 0;
  #entryCount = DIR_COUNT; // forces a header before the first entry
  #headerAt = -1;
  #block = 0;
  #base = 0;
  #indexFrom = 0;
  readonly index: PendingIndex[] = [];
  count = 0;

  add(name: Uint8Array, kind: FileKind, inode: MetaRef, inodeNumber: number, type: number): void {
    const size = name.length;
    this.#room(ENTRY_SIZE + size + HEADER_SIZE);
    const span = this.#p + ENTRY_SIZE + size - this.#indexFrom > METADATA_SIZE;
    const delta = inodeNumber - this.#base;
    if (this.#entryCount === DIR_COUNT || inode.block !== this.#block || (this.#headerAt >= 0 && span) || delta > 32767 || delta < -32768) {
      if (this.#headerAt >= 0) {
        if (span) {
          this.index.push({ index: this.#p, name, startBlock: 0 });
          this.#indexFrom = this.#p;
        }
        this.#closeHeader();
      }
      this.#headerAt = this.#p;
      this.#block = inode.block;
      this.#entryCount = 0;
      this.#base = inodeNumber;
      this.#p += HEADER_SIZE;
    }
    const dv = new DataView(this.#buf.buffer);
    dv.setUint16(this.#p, inode.offset, true);
    dv.setInt16(this.#p + 2, inodeNumber - this.#base, true);
    dv.setUint16(this.#p + 4, type, true);
    dv.setUint16(this.#p + 6, size - 1, true);
    this.#buf.set(name, this.#p + ENTRY_SIZE);
    this.#p += ENTRY_SIZE + size;
    this.#entryCount++;
    this.count++;
    void kind;
  }

  #closeHeader(): void {
    const dv = new DataView(this.#buf.buffer);
    dv.setUint32(this.#headerAt, this.#entryCount - 1, true);
    dv.setUint32(this.#headerAt + 4, this.#block, true);
    dv.setUint32(this.#headerAt + 8, this.#base, true);
  }

  #room(n: number): void {
    if (this.#p + n <= this.#buf.length) return;
    const b = new Uint8Array(Math.max(this.#buf.length * 2, this.#p + n));
    b.set(this.#buf.subarray(0, this.#p));
    this.#buf = b;
  }

  /** The finished listing. */
  finish(): Uint8Array {
    if (this.#headerAt >= 0) this.#closeHeader();
    return this.#buf.subarray(0, this.#p);
  }
}
