/**
 * `squashfs ls [-l]`: the listing of `unsquashfs -lln -UTC` written straight into bytes from the
 * inode and directory tables in memory, without an object, a path string or a line string per
 * entry (which made most of the time of a listing, much of it in the garbage collector).
 *
 * The output, and every error, is the generic walker's ({@link longListingChunks}): whatever this
 * reader is not sure of (a block not in memory, a field that a check of the generic reader refuses,
 * a listing it cannot follow) is handed to the generic reader for that directory or inode, which
 * either throws the error it always throws or returns what is then printed the generic way.
 */
import { decodeName, encodeName } from '../bytes/names.js';
import { FormatError } from '../bytes/errors.js';
import { EAGER_BLOCKS, LONG_BLOCK_LIST, type SquashfsInode } from './inode.js';
import { blockCount, decodeRdev, DIR_COUNT, FORMAT, KIND_IFMT, KIND_TYPE, MAX_DEPTH, METADATA_SIZE, NAME_MAX, NO_FRAGMENT, NO_XATTR, SYMLINK_MAX, TYPE_KIND } from './layout.js';
import type { Squashfs } from './read.js';
import { inodeLine, listingHead, longListingChunks, modeString, utcMinute } from './text.js';

const te = new TextEncoder();
const td = new TextDecoder();

/** A table in memory: its bytes, and where each block (by offset from the table start) begins in them. */
interface Run {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly blocks: Map<number, number>;
}

/** Position in `run` of the byte at `ref`, when its block is in memory and the offset lies inside it; else -1. */
function position(run: Run, block: number, offset: number, ends: Map<number, number>): number {
  const p = run.blocks.get(block);
  if (p === undefined) return -1;
  return offset < ends.get(p)! - p ? p + offset : -1;
}

/** Block start → block end, for {@link position}. */
function blockEnds(run: Run): Map<number, number> {
  const starts = [...run.blocks.values()];
  return new Map(starts.map((p, i) => [p, starts[i + 1] ?? run.bytes.length]));
}

/** Fields of an inode that the listing prints or walks into. */
interface Fields {
  kind: number;
  mode: number;
  uidIndex: number;
  gidIndex: number;
  mtime: number;
  size: number;
  rdev: number;
  /** Symlink target position in the inode table, and length. */
  targetAt: number;
  targetLength: number;
  /** Directory listing. */
  startBlock: number;
  offset: number;
}

const OUT_CHUNK = 1 << 18;
/** Entry records on the walk's stack: kind, inode block, inode offset, inode number (the name is in `names`). */
const REC = 4;

/**
 * The listing of `path` and everything under it, as `unsquashfs -lln -UTC IMG [PATH]` prints it
 * (`long` false: the paths only), as chunks of UTF-8 text.
 */
export async function* listingBytes(fs: Squashfs, path = '/', prefix = 'squashfs-root', long = true): AsyncGenerator<Uint8Array> {
  await fs.preload();
  const t = fs.tablesNow();
  if (!t) {
    for await (const lines of longListingChunks(fs, path, prefix, long)) if (lines.length) yield encodeName(lines.join('\n') + '\n');
    return;
  }
  const sb = fs.superblock;
  const parts = path.split('/').filter((p) => p && p !== '.');
  const head = await listingHead(fs, parts, prefix, long);
  const inodes: Run = { ...t.inodes, dv: new DataView(t.inodes.bytes.buffer, t.inodes.bytes.byteOffset, t.inodes.bytes.byteLength) };
  const dirs: Run = { ...t.dirs, dv: new DataView(t.dirs.bytes.buffer, t.dirs.bytes.byteOffset, t.dirs.bytes.byteLength) };
  const inodeEnds = blockEnds(inodes), dirEnds = blockEnds(dirs);
  const ids = t.ids;
  const xattrCount = fs.xattrIds?.count ?? -1;
  const inodeTableBytes = sb.directoryTableStart - sb.inodeTableStart;

  let buf = new Uint8Array(OUT_CHUNK);
  let n = 0;
  const room = (k: number): Uint8Array | undefined => {
    if (n + k <= buf.length) return undefined;
    const full = buf.subarray(0, n);
    buf = new Uint8Array(Math.max(OUT_CHUNK, k));
    n = 0;
    return full;
  };
  const putText = (s: string) => {
    const b = encodeName(s);
    buf.set(b, n);
    n += b.length;
  };
  const putBytes = (b: Uint8Array) => {
    buf.set(b, n);
    n += b.length;
  };
  /** `v` right-aligned in `width` columns (wider when it needs to be). */
  const putDecimal = (v: number, width: number) => {
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    if (width > digits) buf.fill(0x20, n, (n += width - digits));
    let i = n + digits;
    n = i;
    do {
      buf[--i] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
  };

  // the path of the directory being listed, as printed: prefix, then the walk path ("/a/b/")
  let pathBytes = new Uint8Array(4096);
  let pathLen = 0;
  const pushPath = (b: Uint8Array) => {
    if (pathLen + b.length > pathBytes.length) {
      const bigger = new Uint8Array(Math.max(pathBytes.length * 2, pathLen + b.length));
      bigger.set(pathBytes.subarray(0, pathLen));
      pathBytes = bigger;
    }
    pathBytes.set(b, pathLen);
    pathLen += b.length;
  };
  const prefixBytes = te.encode(prefix);
  const prefixLen = prefixBytes.length;
  /** The walk path (without the prefix) of the directory being listed, for error messages. */
  const walkPath = () => td.decode(pathBytes.subarray(prefixLen, pathLen));

  const modes = new Map<number, Uint8Array>();
  const times = new Map<number, Uint8Array>();
  const idText = new Map<number, Uint8Array>();

  // entry records of every directory on the stack, each frame owning a run of them
  let rec = new Float64Array(REC * 1024);
  let recTop = 0;
  const names: Uint8Array[] = [];
  const frames: { from: number; to: number; next: number; pathLen: number; path: Uint8Array; startBlock: number }[] = [];
  const seen = new Set<number>();

  const pushRecord = (name: Uint8Array, kind: number, block: number, offset: number, inodeNumber: number) => {
    if (recTop + REC > rec.length) {
      const bigger = new Float64Array(rec.length * 2);
      bigger.set(rec);
      rec = bigger;
    }
    names[recTop / REC] = name;
    rec[recTop] = kind;
    rec[recTop + 1] = block;
    rec[recTop + 2] = offset;
    rec[recTop + 3] = inodeNumber;
    recTop += REC;
  };

  /** Decodes a listing at `at` (length `length`) of the directory table into records, or returns false where the generic decoder must judge it. */
  const fastListing = (at: number, length: number): boolean => {
    const b = dirs.bytes, dv = dirs.dv;
    const end = at + length;
    if (end > b.length) return false;
    const from = recTop;
    let prevAt = -1, prevLen = 0;
    for (let c = at; c < end; ) {
      if (c + 12 > end) return (recTop = from), false;
      const count = dv.getUint32(c, true) + 1, block = dv.getUint32(c + 4, true), base = dv.getUint32(c + 8, true);
      if (count > DIR_COUNT) return (recTop = from), false;
      c += 12;
      for (let i = 0; i < count; i++) {
        if (c + 8 > end) return (recTop = from), false;
        const offset = dv.getUint16(c, true), delta = dv.getInt16(c + 2, true), type = dv.getUint16(c + 4, true), nameSize = dv.getUint16(c + 6, true) + 1;
        if (type < 1 || type > 7 || nameSize > NAME_MAX || offset >= METADATA_SIZE || c + 8 + nameSize > end) return (recTop = from), false;
        const name = c + 8;
        const view = b.subarray(name, name + nameSize);
        if (view.includes(0x2f) || view.includes(0)) return (recTop = from), false;
        if (nameSize <= 2 && b[name] === 0x2e && b[name + nameSize - 1] === 0x2e) return (recTop = from), false;
        if (prevAt >= 0) {
          // strictly increasing, bytewise
          const m = Math.min(prevLen, nameSize);
          let d = 0;
          for (let k = 0; k < m && d === 0; k++) d = b[prevAt + k]! - b[name + k]!;
          if (d === 0) d = prevLen - nameSize;
          if (d >= 0) return (recTop = from), false;
        }
        prevAt = name;
        prevLen = nameSize;
        const inodeNumber = base + delta;
        if (inodeNumber < 1 || inodeNumber > 0xffff_ffff) return (recTop = from), false;
        pushRecord(view, type, block, offset, inodeNumber);
        c = name + nameSize;
      }
    }
    return true;
  };

  /** Pushes a frame for a directory whose listing is at `startBlock`/`offset` (`size` = listing + 3); `generic` reads the inode for the generic reader. */
  const enter = async (startBlock: number, offset: number, size: number, generic: () => Promise<SquashfsInode>) => {
    if (frames.length > MAX_DEPTH)
      throw new FormatError(FORMAT, 'BAD_FIELD', sb.directoryTableStart + startBlock, `Cannot walk ${walkPath()}: directories nest deeper than ${MAX_DEPTH} (a loop, or deeper than this reader goes)`);
    if (seen.size > 2 * sb.inodes + 2)
      throw new FormatError(FORMAT, 'BAD_FIELD', sb.directoryTableStart + startBlock, `Cannot walk ${walkPath()}: more directories than the image's inode count allows (a loop)`);
    const from = recTop;
    // as the generic reader: an offset past a block is refused even for an empty listing
    let fast = false;
    if (offset < METADATA_SIZE && size >= 3) {
      const at = size === 3 ? 0 : position(dirs, startBlock, offset, dirEnds);
      fast = size === 3 || (at >= 0 && fastListing(at, size - 3));
    }
    if (!fast) {
      recTop = from;
      for (const e of await fs.readdir(await generic())) pushRecord(e.name, KIND_TYPE[e.kind], e.inode.block, e.inode.offset, e.inodeNumber);
    }
    frames.push({ from, to: recTop, next: from, pathLen, path: pathBytes.slice(0, pathLen), startBlock });
  };

  // long block lists found good, by inode position: the names of one inode check its list once
  const listsChecked = new Set<number>();
  const f: Fields = { kind: 0, mode: 0, uidIndex: 0, gidIndex: 0, mtime: 0, size: 0, rdev: 0, targetAt: 0, targetLength: 0, startBlock: 0, offset: 0 };
  /** Reads the inode at `ref` into `f` with every check of the generic reader; false where it must judge. */
  const fastInode = (block: number, offset: number): boolean => {
    const at = position(inodes, block, offset, inodeEnds);
    if (at < 0) return false;
    const b = inodes.bytes, dv = inodes.dv, len = b.length;
    if (at + 16 > len) return false;
    const type = dv.getUint16(at, true);
    if (type < 1 || type > 14) return false;
    f.kind = type > 7 ? type - 7 : type;
    f.mode = dv.getUint16(at + 2, true);
    f.uidIndex = dv.getUint16(at + 4, true);
    f.gidIndex = dv.getUint16(at + 6, true);
    f.mtime = dv.getUint32(at + 8, true);
    const number = dv.getUint32(at + 12, true);
    if (f.mode > 0o7777 || number < 1 || number > sb.inodes || f.uidIndex >= sb.noIds || f.gidIndex >= sb.noIds) return false;
    if (f.uidIndex >= ids.length || f.gidIndex >= ids.length) return false;
    f.size = 0;
    f.rdev = 0;
    let xattr = NO_XATTR;
    const p = at + 16;
    switch (type) {
      case 1: // dir
        if (p + 16 > len) return false;
        f.startBlock = dv.getUint32(p, true);
        f.size = dv.getUint16(p + 8, true);
        f.offset = dv.getUint16(p + 10, true);
        if (f.size < 3) return false;
        break;
      case 8: { // extended dir and its index
        if (p + 24 > len) return false;
        f.size = dv.getUint32(p + 4, true);
        f.startBlock = dv.getUint32(p + 8, true);
        const count = dv.getUint16(p + 16, true);
        f.offset = dv.getUint16(p + 18, true);
        xattr = dv.getUint32(p + 20, true);
        let q = p + 24;
        for (let i = 0; i < count; i++) {
          if (q + 12 > len) return false;
          const nameSize = dv.getUint32(q + 8, true) + 1;
          if (nameSize > NAME_MAX || q + 12 + nameSize > len) return false;
          q += 12 + nameSize;
        }
        if (f.size < 3) return false;
        break;
      }
      case 2:
      case 9: { // file
        let start: number, fragment: number;
        let q: number;
        if (type === 2) {
          if (p + 16 > len) return false;
          start = dv.getUint32(p, true);
          fragment = dv.getUint32(p + 4, true);
          f.size = dv.getUint32(p + 12, true);
          q = p + 16;
        } else {
          if (p + 40 > len) return false;
          const h0 = dv.getUint32(p + 4, true), h1 = dv.getUint32(p + 12, true);
          if (h0 >= 0x20_0000 || h1 >= 0x20_0000 || dv.getUint32(p + 20, true) >= 0x20_0000) return false;
          start = h0 * 0x1_0000_0000 + dv.getUint32(p, true);
          f.size = h1 * 0x1_0000_0000 + dv.getUint32(p + 8, true);
          fragment = dv.getUint32(p + 28, true);
          xattr = dv.getUint32(p + 36, true);
          q = p + 40;
        }
        const hasFragment = fragment !== NO_FRAGMENT;
        if (hasFragment && fragment >= sb.fragments) return false;
        const count = blockCount(f.size, sb.blockSize, hasFragment);
        if (count * 4 > Math.ceil(inodeTableBytes / 3) * 8192 + 4 * 8192) return false;
        if (count > EAGER_BLOCKS) break; // left in the table until the data is read, as the inode decoder leaves it
        if (q + count * 4 > len) return false;
        if (count >= LONG_BLOCK_LIST && listsChecked.has(at)) break;
        let pos = start;
        let stored = false;
        for (let i = 0; i < count; i++) {
          const w = dv.getUint32(q + i * 4, true);
          if (w >= 0x200_0000) return false;
          const disk = w & 0xff_ffff;
          if (disk > sb.blockSize) return false;
          pos += disk;
          if (w !== 0) stored = true;
        }
        if (stored && (start < fs.dataStart || pos > sb.inodeTableStart)) return false;
        if (count >= LONG_BLOCK_LIST) listsChecked.add(at);
        break;
      }
      case 3:
      case 10: { // symlink
        if (p + 8 > len) return false;
        const k = dv.getUint32(p + 4, true);
        if (k > SYMLINK_MAX || p + 8 + k + (type === 10 ? 4 : 0) > len) return false;
        f.targetAt = p + 8;
        f.targetLength = k;
        f.size = k;
        if (type === 10) xattr = dv.getUint32(p + 8 + k, true);
        break;
      }
      case 4: case 5: case 11: case 12: // devices
        if (p + (type > 7 ? 12 : 8) > len) return false;
        f.rdev = dv.getUint32(p + 4, true);
        if (type > 7) xattr = dv.getUint32(p + 8, true);
        break;
      default: // fifo, socket
        if (p + (type > 7 ? 8 : 4) > len) return false;
        if (type > 7) xattr = dv.getUint32(p + 4, true);
    }
    return xattr === NO_XATTR || xattr < xattrCount;
  };

  const line = (path: Uint8Array, name: Uint8Array) => {
    // path and target may be long: room for their bytes and the rest of the line
    const full = room(path.length + name.length + (f.kind === 3 ? f.targetLength : 0) + 128);
    if (long) {
      const mkey = KIND_IFMT_OF[f.kind]! + f.mode;
      let m = modes.get(mkey);
      if (!m) modes.set(mkey, (m = te.encode(modeString(TYPE_KIND[f.kind]!, f.mode) + ' ')));
      putBytes(m);
      const ikey = f.uidIndex * 0x1_0000 + f.gidIndex;
      let idb = idText.get(ikey);
      if (!idb) idText.set(ikey, (idb = te.encode(`${ids[f.uidIndex]}/${ids[f.gidIndex]} `)));
      putBytes(idb);
      const padchars = 25 - (idb.length - 1) + 1;
      if (f.kind === 4 || f.kind === 5) {
        const { major, minor } = decodeRdev(f.rdev);
        if (padchars > 7) buf.fill(0x20, n, (n += padchars - 7));
        putDecimal(major, 3);
        buf[n++] = 0x2c;
        putDecimal(minor, 3);
      } else putDecimal(f.kind === 1 || f.kind === 2 || f.kind === 3 ? f.size : 0, padchars);
      let tm = times.get(f.mtime);
      if (!tm) {
        if (times.size >= 4096) times.clear();
        times.set(f.mtime, (tm = te.encode(' ' + utcMinute(f.mtime) + ' ')));
      }
      putBytes(tm);
    }
    // names and targets as stored, UTF-8 or not, as unsquashfs prints them
    putBytes(path);
    putBytes(name);
    if (long && f.kind === 3) {
      buf[n++] = 0x20, buf[n++] = 0x2d, buf[n++] = 0x3e, buf[n++] = 0x20;
      putBytes(inodes.bytes.subarray(f.targetAt, f.targetAt + f.targetLength));
    }
    buf[n++] = 0x0a;
    return full;
  };

  /** A line from an inode the generic reader decoded. */
  const genericLine = (inode: SquashfsInode, path: Uint8Array, name: Uint8Array) => {
    const p = decodeName(path) + decodeName(name);
    const text = long
      ? inodeLine(p, inode, ids[inode.uidIndex]!, ids[inode.gidIndex]!)
      : p;
    const full = room(3 * text.length + 1);
    putText(text + '\n');
    return full;
  };

  try {
    if (head.length) {
      const full = room(3 * head.reduce((k, l) => k + l.length + 1, 0));
      if (full) yield full;
      putText(head.join('\n') + '\n');
    }
    pushPath(prefixBytes);
    const start = parts.length ? await fs.lookup(parts.join('/')) : await fs.root();
    if (parts.length) {
      // the start itself, as the generic walk lists it
      const rel = te.encode('/' + parts.join('/'));
      const full = genericLine(start, prefixBytes, rel);
      if (full) yield full;
      pushPath(rel);
    }
    seen.add(-1 - start.inodeNumber);
    if (start.kind === 'dir') {
      pushPath(SLASH);
      await enter(start.startBlock, start.offset, start.size, async () => start);
    }
    while (frames.length > 0) {
      const fr = frames[frames.length - 1]!;
      if (fr.next >= fr.to) {
        frames.pop();
        recTop = fr.from;
        continue;
      }
      const r = fr.next;
      fr.next += REC;
      pathLen = fr.pathLen;
      const name = names[r / REC]!;
      const kind = rec[r]!, block = rec[r + 1]!, offset = rec[r + 2]!, inodeNumber = rec[r + 3]!;
      if (kind === 1) {
        // directories cannot be hard linked: reaching one twice (by reference or by number) is a loop
        const key = block * 0x1_0000 + offset;
        if (seen.has(key) || seen.has(-1 - inodeNumber))
          throw new FormatError(FORMAT, 'BAD_FIELD', sb.directoryTableStart + fr.startBlock, `Cannot walk ${walkPath()}: directory reached twice (a loop)`);
        seen.add(key);
        seen.add(-1 - inodeNumber);
      }
      let full: Uint8Array | undefined;
      let dir: { startBlock: number; offset: number; size: number } | undefined;
      if (fastInode(block, offset) && f.kind === kind) {
        full = line(fr.path, name);
        if (kind === 1) dir = { startBlock: f.startBlock, offset: f.offset, size: f.size };
      } else {
        const ref = { block, offset };
        const inode = await fs.inode(ref);
        if (KIND_TYPE[inode.kind] !== kind)
          throw new FormatError(FORMAT, 'BAD_FIELD', sb.directoryTableStart, `Cannot read ${walkPath()}${td.decode(name)}: the directory entry says ${TYPE_KIND[kind]}, the inode ${inode.kind}`);
        full = genericLine(inode, fr.path, name);
        if (inode.kind === 'dir') dir = inode;
      }
      if (full) yield full;
      if (dir) {
        pushPath(name);
        pushPath(SLASH);
        await enter(dir.startBlock, dir.offset, dir.size, () => fs.inode({ block, offset }));
      }
    }
  } catch (e) {
    if (n > 0) yield buf.subarray(0, n);
    n = 0;
    throw e;
  }
  if (n > 0) yield buf.subarray(0, n);
}

const SLASH = new Uint8Array([0x2f]);
/** S_IFMT bits by basic inode type (1–7). */
const KIND_IFMT_OF = TYPE_KIND.map((k) => (k ? KIND_IFMT[k] : 0));
