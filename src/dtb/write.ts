/**
 * DTB writer with dtc's exact layout (dtc 1.6.1 flattree.c `dt_to_blob`): header, memreserve block
 * at the header size rounded up to 8, structure block, strings block in first-use order where a name
 * that is the tail of an earlier string reuses it ("phandle" → the end of "linux,phandle").
 */
import { alignUp } from '../bytes/limits.js';
import { FDT_MAGIC, FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END, VERSIONS, RESERVE_ENTRY_SIZE, type VersionInfo } from './layout.js';
import { latin1ToBytes, type Fdt, type FdtNode } from './model.js';

export interface EncodeOptions {
  /** Blob version: 17 (default), 16, or legacy 1–3 (dtc -V). */
  readonly version?: number;
  /** Extra empty memreserve slots (dtc -R). */
  readonly reserveSlots?: number;
  /** Minimum total size (dtc -S); mutually exclusive with `pad`. */
  readonly minSize?: number;
  /** Zero bytes added after the strings block (dtc -p). */
  readonly pad?: number;
  /** Round the total size up to this power of two (dtc -a). */
  readonly align?: number;
  /** Called with a message when -S is smaller than the blob (dtc prints a warning). */
  readonly onWarning?: (message: string) => void;
}

/** A growable big-endian byte buffer. */
export class Emitter {
  buf = new Uint8Array(1024);
  dv = new DataView(this.buf.buffer);
  len = 0;
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.dv.setUint32(this.len, v >>> 0);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  latin1(s: string): void {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i) & 0xff;
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }
  align(a: number): void {
    this.zeros((a - (this.len % a)) % a);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/**
 * dtc's strings table: `insert` returns the first offset where `name` (NUL-terminated) already occurs,
 * which is the end of the first string that has `name` as a suffix. Suffixes up to SUFFIX_INDEX long are
 * indexed as strings are added, so a table of many names stays linear; a longer name is searched for.
 */
export class StringTable {
  table = '';
  readonly #cache = new Map<string, number>();
  /** An unterminated last piece of an initial table: the next name added continues it. */
  #open = '';
  constructor(initial = '') {
    let at = 0;
    for (let end = initial.indexOf('\0'); end >= 0; at = end + 1, end = initial.indexOf('\0', at)) this.#append(initial.slice(at, end));
    this.#open = initial.slice(at);
    this.table += this.#open;
  }
  insert(name: string): number {
    const hit = this.#cache.get(name);
    if (hit !== undefined) return hit;
    if (name.length > SUFFIX_INDEX) {
      const at = this.table.indexOf(name + '\0');
      if (at >= 0) {
        this.#cache.set(name, at);
        return at;
      }
    }
    return this.#append(name);
  }
  /** Adds `name`, indexes the suffixes of the string it ends; returns where `name` is first found. */
  #append(name: string): number {
    const s = this.#open + name;
    this.#open = '';
    this.table += name + '\0';
    const end = this.table.length - 1;
    for (let k = Math.max(0, s.length - SUFFIX_INDEX); k <= s.length; k++) {
      const suffix = s.slice(k);
      if (!this.#cache.has(suffix)) this.#cache.set(suffix, end - suffix.length);
    }
    const at = this.#cache.get(name) ?? end - name.length;
    this.#cache.set(name, at);
    return at;
  }
  bytes(): Uint8Array {
    return latin1ToBytes(this.table);
  }
}

/** Longest suffix of each string kept in the StringTable index (property names are rarely over 31). */
const SUFFIX_INDEX = 64;

function flatten(node: FdtNode, path: string, e: Emitter, strs: StringTable, vi: VersionInfo): void {
  e.u32(FDT_BEGIN_NODE);
  e.latin1(vi.legacy ? path || '/' : node.name);
  e.zeros(1);
  e.align(4);
  let seenName = false;
  for (const p of node.props) {
    if (p.name === 'name') seenName = true;
    const off = strs.insert(p.name);
    e.u32(FDT_PROP);
    e.u32(p.value.length);
    e.u32(off);
    if (vi.legacy && p.value.length >= 8) e.align(8);
    e.bytes(p.value);
    e.align(4);
  }
  if (vi.legacy && !seenName) {
    const base = node.name.split('@')[0]!;
    e.u32(FDT_PROP);
    e.u32(base.length + 1);
    e.u32(strs.insert('name'));
    if (base.length + 1 >= 8) e.align(8);
    e.latin1(base);
    e.zeros(1);
    e.align(4);
  }
  for (const c of node.children) flatten(c, vi.legacy ? `${path}/${c.name}` : '', e, strs, vi);
  e.u32(FDT_END_NODE);
}

/** The structure block and strings table of a tree, as dtc lays them out. */
export function flattenTree(root: FdtNode, version = 17): { struct: Uint8Array; strings: Uint8Array } {
  const vi = versionInfo(version);
  const e = new Emitter();
  const strs = new StringTable();
  flatten(root, '', e, strs, vi);
  e.u32(FDT_END);
  return { struct: e.result(), strings: strs.bytes() };
}

function versionInfo(version: number): VersionInfo {
  const vi = VERSIONS.find((v) => v.version === version);
  if (!vi) throw new RangeError(`Unknown device tree blob version ${version}`);
  return vi;
}

/**
 * Encodes a tree exactly as `dtc -O dtb` would for the same tree and options.
 * @example
 * const dtb = encodeFdt({ version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root: fdtNode('') });
 */
export function encodeFdt(fdt: Fdt, opts: EncodeOptions = {}): Uint8Array {
  const vi = versionInfo(opts.version ?? 17);
  const { struct, strings } = flattenTree(fdt.root, vi.version);
  return assemble(vi, fdt, struct, strings, opts);
}

/** Header + memreserve + blocks + padding, dtc's make_fdt_header and dt_to_blob. */
export function assemble(vi: VersionInfo, fdt: Pick<Fdt, 'reserve' | 'bootCpuidPhys'>, struct: Uint8Array, strings: Uint8Array, opts: EncodeOptions = {}): Uint8Array {
  const minSize = opts.minSize ?? 0, padSize = opts.pad ?? 0, alignSize = opts.align ?? 0;
  if (minSize && padSize) throw new RangeError("Can't set both -p and -S");
  if (alignSize && (alignSize & (alignSize - 1)) !== 0) throw new RangeError(`Invalid argument "${alignSize}" to -a option`);
  const rsvCount = fdt.reserve.length + (opts.reserveSlots ?? 0);
  const reserveOff = alignUp(vi.headerSize, 8);
  const reserveSize = (rsvCount + 1) * RESERVE_ENTRY_SIZE;
  const offStruct = reserveOff + reserveSize;
  const offStrings = offStruct + struct.length;
  let total = offStrings + strings.length;
  let padLen = 0;
  if (minSize > 0) {
    padLen = minSize - total;
    if (padLen < 0) {
      padLen = 0;
      opts.onWarning?.(`Warning: blob size ${total} >= minimum size ${minSize}`);
    }
  }
  if (padSize > 0) padLen = padSize;
  if (alignSize > 0) padLen = alignUp(total + padLen, alignSize) - total;
  if (padLen > 0) total += padLen;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const hdr = [FDT_MAGIC, total, offStruct, offStrings, reserveOff, vi.version, vi.lastCompVersion,
    vi.version >= 2 ? fdt.bootCpuidPhys : 0xffffffff, vi.version >= 3 ? strings.length : 0xffffffff,
    vi.version >= 17 ? struct.length : 0xffffffff];
  for (let i = 0; i * 4 < vi.headerSize; i++) dv.setUint32(i * 4, hdr[i]! >>> 0);
  let at = reserveOff;
  for (const r of fdt.reserve) {
    dv.setBigUint64(at, BigInt.asUintN(64, r.address));
    dv.setBigUint64(at + 8, BigInt.asUintN(64, r.size));
    at += RESERVE_ENTRY_SIZE;
  }
  out.set(struct, offStruct);
  out.set(strings, offStrings);
  return out;
}
