/**
 * A blob edited in place the way libfdt edits it (dtc 1.6.1 `libfdt/fdt_rw.c`, `fdt_ro.c`), for tools
 * whose output must match libfdt's byte for byte (fdtoverlay). The blob sits in one buffer of fixed
 * capacity: header, memreserve block, structure block, strings block, free space. Every insertion or
 * resize moves everything after it (a memmove), and the bytes a move uncovers are NOT cleared: the
 * padding after a new or resized value keeps whatever was there before. libfdt-written blobs carry
 * these stale bytes, so they are reproduced here rather than zeroed.
 *
 * Placement rules (what makes the bytes differ from dtc's):
 * - a new property goes first in its node, right after the node name;
 * - a new subnode goes first among the subnodes, after the properties (and NOPs);
 * - an existing property is resized where it stands;
 * - a property name is looked up anywhere in the strings block (a suffix of another name counts),
 *   otherwise appended at its end.
 *
 * Offsets given to and returned by the node methods are relative to the structure block, as in libfdt.
 * The caller validates the blob (decodeFdt) before opening it, so the walks here only guard, never parse.
 */
import { FormatError } from '../bytes/errors.js';
import { FORMAT, FDT_MAGIC, FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END, FdtHeader, FDT_V17_SIZE, RESERVE_ENTRY_SIZE, pad4 } from './layout.js';

/** libfdt's error names (libfdt.h FDT_ERR_*), for messages that name what fdtoverlay would print. */
export type FdtErr =
  | 'NOTFOUND' | 'EXISTS' | 'NOSPACE' | 'BADOFFSET' | 'BADPATH' | 'BADPHANDLE' | 'TRUNCATED' | 'BADSTRUCTURE'
  | 'BADLAYOUT' | 'INTERNAL' | 'BADVALUE' | 'BADOVERLAY' | 'NOPHANDLES';

/** A libfdt-level failure; the overlay code turns it into a FormatError pointing at the overlay input. */
export class LibfdtError extends Error {
  constructor(readonly err: FdtErr, readonly detail: string) {
    super(`${detail} (FDT_ERR_${err})`);
  }
}

const H = FdtHeader.offsets;
const TAG = 4;
/** Node header: tag. Property header: tag, len, nameoff. */
const PROP_HEADER = 12;
const tagAlign = (n: number): number => n + pad4(n);
/** Deepest alias-in-alias chain followed (libfdt recurses without a bound and overflows its stack on a loop). */
const MAX_ALIAS_DEPTH = 32;

/** `s` as latin1 bytes: node and property names in this model are one char per byte. */
function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

/** The C string at the start of a value: up to its first NUL, or all of it (a following struct byte is a 0 tag byte). */
export function cString(v: Uint8Array): string {
  const nul = v.indexOf(0);
  const b = nul < 0 ? v : v.subarray(0, nul);
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** libfdt's node-name rule: "name" matches "name" and, when it has no "@", also "name@unit". */
export function nameMatches(nodeName: string, want: string): boolean {
  if (!nodeName.startsWith(want)) return false;
  return nodeName.length === want.length || (!want.includes('@') && nodeName.charCodeAt(want.length) === 0x40);
}

/**
 * Path lookup with libfdt's rules, over any tree: components match by `nameMatches`, the first match wins,
 * repeated "/" are skipped, and a path not starting with "/" begins with an alias from /aliases.
 */
export function lookupPath<N>(
  t: { root: N; child(n: N, name: string): N | undefined; prop(n: N, name: string): Uint8Array | undefined },
  path: string,
  depth = 0,
): N {
  let node = t.root;
  let rest = path;
  if (!path.startsWith('/')) {
    const slash = path.indexOf('/');
    const alias = slash < 0 ? path : path.slice(0, slash);
    let aliases: N;
    try {
      aliases = lookupPath(t, '/aliases', depth);
    } catch {
      throw new LibfdtError('BADPATH', `alias ${JSON.stringify(alias)} used, but there is no /aliases node`);
    }
    const target = t.prop(aliases, alias);
    if (!target) throw new LibfdtError('BADPATH', `alias ${JSON.stringify(alias)} is not in /aliases`);
    if (depth >= MAX_ALIAS_DEPTH) throw new LibfdtError('BADPATH', `alias ${JSON.stringify(alias)} refers to aliases more than ${MAX_ALIAS_DEPTH} deep (a loop)`);
    node = lookupPath(t, cString(target), depth + 1);
    rest = slash < 0 ? '' : path.slice(slash);
  }
  for (const part of rest.split('/')) {
    if (part === '') continue;
    const c = t.child(node, part);
    if (c === undefined) throw new LibfdtError('NOTFOUND', `node ${JSON.stringify(path)} does not exist`);
    node = c;
  }
  return node;
}

/** A blob opened for in-place editing (libfdt fdt_open_into); `buf.length` is its capacity. */
export class InPlaceFdt {
  readonly dv: DataView;
  /** The strings block as latin1, kept in step with the buffer (searching it is the hot path of setprop). */
  #strings = '';

  private constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get totalSize(): number { return this.dv.getUint32(H.totalSize); }
  get offStruct(): number { return this.dv.getUint32(H.offDtStruct); }
  get offStrings(): number { return this.dv.getUint32(H.offDtStrings); }
  get sizeStrings(): number { return this.dv.getUint32(H.sizeDtStrings); }
  get sizeStruct(): number { return this.dv.getUint32(H.sizeDtStruct); }
  #set(field: number, v: number): void { this.dv.setUint32(field, v); }

  /**
   * Copies a checked blob into `buf` (libfdt fdt_open_into): kept as it is when its blocks are in order
   * (header, memreserve, struct, strings), otherwise rebuilt packed. Version becomes 17 and totalsize the
   * capacity. Bytes of `buf` past the copied blob are left as they are (realloc keeps them).
   */
  static open(blob: Uint8Array, buf: Uint8Array): InPlaceFdt {
    const src = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const total = src.getUint32(H.totalSize), version = src.getUint32(H.version);
    const offRsv = src.getUint32(H.offMemRsvmap), offStruct = src.getUint32(H.offDtStruct);
    const offStrings = src.getUint32(H.offDtStrings), sizeStrings = src.getUint32(H.sizeDtStrings);
    const rsvSize = (countReserve(src, offRsv, total) + 1) * RESERVE_ENTRY_SIZE;
    const structSize = version >= 17 ? src.getUint32(H.sizeDtStruct) : v16StructSize(blob, offStruct, total);
    const misordered = offRsv < FDT_V17_SIZE || offStruct < offRsv + rsvSize || offStrings < offStruct + structSize || total < offStrings + sizeStrings;
    const f = new InPlaceFdt(buf);
    if (!misordered) {
      if (buf.length < total) throw new LibfdtError('NOSPACE', 'buffer smaller than the blob');
      buf.set(blob.subarray(0, total));
      f.#set(H.version, 17);
      f.#set(H.sizeDtStruct, structSize);
    } else {
      const size = FDT_V17_SIZE + rsvSize + structSize + sizeStrings;
      if (buf.length < size) throw new LibfdtError('NOSPACE', `blocks overlap: rebuilding them needs ${size} bytes, the blob has ${total}`);
      buf.set(blob.subarray(offRsv, offRsv + rsvSize), FDT_V17_SIZE);
      buf.set(blob.subarray(offStruct, offStruct + structSize), FDT_V17_SIZE + rsvSize);
      buf.set(blob.subarray(offStrings, offStrings + sizeStrings), FDT_V17_SIZE + rsvSize + structSize);
      f.#set(H.magic, FDT_MAGIC);
      f.#set(H.offMemRsvmap, FDT_V17_SIZE);
      f.#set(H.offDtStruct, FDT_V17_SIZE + rsvSize);
      f.#set(H.sizeDtStruct, structSize);
      f.#set(H.offDtStrings, FDT_V17_SIZE + rsvSize + structSize);
      f.#set(H.sizeDtStrings, sizeStrings);
      f.#set(H.version, 17);
      f.#set(H.lastCompVersion, 16);
      f.#set(H.bootCpuidPhys, src.getUint32(H.bootCpuidPhys));
    }
    f.#set(H.totalSize, buf.length);
    let s = '';
    for (const c of buf.subarray(f.offStrings, f.offStrings + f.sizeStrings)) s += String.fromCharCode(c);
    f.#strings = s;
    return f;
  }

  /** The blob with its blocks packed and no free space (libfdt fdt_pack), as a new array. */
  pack(): Uint8Array {
    const offRsv = this.dv.getUint32(H.offMemRsvmap);
    const rsvSize = (countReserve(this.dv, offRsv, this.totalSize) + 1) * RESERVE_ENTRY_SIZE;
    const structAt = FDT_V17_SIZE + rsvSize, stringsAt = structAt + this.sizeStruct;
    const out = new Uint8Array(stringsAt + this.sizeStrings);
    out.set(this.buf.subarray(0, FDT_V17_SIZE));
    out.set(this.buf.subarray(offRsv, offRsv + rsvSize), FDT_V17_SIZE);
    out.set(this.buf.subarray(this.offStruct, this.offStruct + this.sizeStruct), structAt);
    out.set(this.buf.subarray(this.offStrings, this.offStrings + this.sizeStrings), stringsAt);
    const dv = new DataView(out.buffer);
    dv.setUint32(H.offMemRsvmap, FDT_V17_SIZE);
    dv.setUint32(H.offDtStruct, structAt);
    dv.setUint32(H.offDtStrings, stringsAt);
    dv.setUint32(H.totalSize, out.length);
    return out;
  }

  // ---- reading -------------------------------------------------------------------------------

  #u32(off: number): number {
    if (off < 0 || off + 4 > this.sizeStruct) throw new LibfdtError('TRUNCATED', `structure block ends at 0x${this.sizeStruct.toString(16)}`);
    return this.dv.getUint32(this.offStruct + off);
  }

  /** The token at `off`: its tag and the offset of the next one. */
  #token(off: number): { tag: number; next: number } {
    const tag = this.#u32(off);
    switch (tag) {
      case FDT_BEGIN_NODE: {
        const at = this.offStruct + off + TAG;
        const nul = this.buf.subarray(at, this.offStruct + this.sizeStruct).indexOf(0);
        if (nul < 0) throw new LibfdtError('TRUNCATED', 'node name runs past the structure block');
        return { tag, next: tagAlign(off + TAG + nul + 1) };
      }
      case FDT_PROP:
        return { tag, next: off + PROP_HEADER + tagAlign(this.#u32(off + 4)) };
      case FDT_END_NODE: case FDT_NOP: case FDT_END:
        return { tag, next: off + TAG };
      default:
        throw new LibfdtError('BADSTRUCTURE', `unknown tag 0x${tag.toString(16)}`);
    }
  }

  /** The name of the node whose BEGIN_NODE is at `node`. */
  name(node: number): string {
    if (this.#u32(node) !== FDT_BEGIN_NODE) throw new LibfdtError('BADOFFSET', `no node at 0x${node.toString(16)}`);
    const at = this.offStruct + node + TAG;
    const end = this.buf.indexOf(0, at);
    let s = '';
    for (let i = at; i < end; i++) s += String.fromCharCode(this.buf[i]!);
    return s;
  }

  /** Offset of the first token after the node's name. */
  #body(node: number): number {
    const t = this.#token(node);
    if (t.tag !== FDT_BEGIN_NODE) throw new LibfdtError('BADOFFSET', `no node at 0x${node.toString(16)}`);
    return t.next;
  }

  /** Offsets of the node's properties, in order (libfdt stops at the first subnode). */
  *props(node: number): Generator<number> {
    for (let off = this.#body(node); ;) {
      const t = this.#token(off);
      if (t.tag === FDT_PROP) yield off;
      else if (t.tag !== FDT_NOP) return;
      off = t.next;
    }
  }

  /** Offsets of the node's children, in order. The walk is iterative: depth is not bounded by the stack. */
  *children(node: number): Generator<number> {
    let depth = 0;
    for (let off = this.#body(node); ;) {
      const t = this.#token(off);
      if (t.tag === FDT_BEGIN_NODE) {
        if (depth++ === 0) yield off;
      } else if (t.tag === FDT_END_NODE) {
        if (depth-- === 0) return;
      } else if (t.tag === FDT_END) throw new LibfdtError('BADSTRUCTURE', 'structure block ends inside a node');
      off = t.next;
    }
  }

  /** Whether the property at `prop` is called `name` (compared in the strings block, without decoding). */
  #propIs(prop: number, name: string): boolean {
    const s = this.offStrings + this.#u32(prop + 8);
    if (s + name.length >= this.offStrings + this.sizeStrings) return false;
    for (let i = 0; i < name.length; i++) if (this.buf[s + i] !== name.charCodeAt(i)) return false;
    return this.buf[s + name.length] === 0;
  }

  /** Offset of the node's first property called `name`, or -1. */
  findProp(node: number, name: string): number {
    for (const p of this.props(node)) if (this.#propIs(p, name)) return p;
    return -1;
  }

  /** The value of the node's first property called `name` (a view into the buffer). */
  prop(node: number, name: string): Uint8Array | undefined {
    const p = this.findProp(node, name);
    if (p < 0) return undefined;
    const at = this.offStruct + p + PROP_HEADER;
    return this.buf.subarray(at, at + this.#u32(p + 4));
  }

  /** The first child matching `name` by libfdt's rule, or undefined. */
  child(node: number, name: string): number | undefined {
    for (const c of this.children(node)) if (nameMatches(this.name(c), name)) return c;
    return undefined;
  }

  get root(): number {
    return 0;
  }

  /** The node at `path` (aliases allowed); throws NOTFOUND / BADPATH. */
  path(path: string): number {
    return lookupPath<number>(this, path);
  }

  /** The node's phandle: `phandle`, else `linux,phandle`, when 4 bytes long; 0 when none. */
  phandle(node: number): number {
    for (const name of ['phandle', 'linux,phandle']) {
      const v = this.prop(node, name);
      if (v && v.length === 4) return new DataView(v.buffer, v.byteOffset, 4).getUint32(0);
    }
    return 0;
  }

  /** Every node's offset in document order, with its parent path (walks tokens, no recursion). */
  *#nodes(): Generator<{ node: number; path: string }> {
    const stack: string[] = [];
    for (let off = 0; ;) {
      const t = this.#token(off);
      if (t.tag === FDT_BEGIN_NODE) {
        const name = this.name(off);
        const path = stack.length === 0 ? '/' : stack.length === 1 ? `/${name}` : `${stack[stack.length - 1]}/${name}`;
        yield { node: off, path };
        stack.push(path);
      } else if (t.tag === FDT_END_NODE) {
        stack.pop();
        if (stack.length === 0) return;
      } else if (t.tag === FDT_END) return;
      off = t.next;
    }
  }

  /** Highest phandle in the tree (libfdt fdt_find_max_phandle; 0xffffffff counts). */
  maxPhandle(): number {
    let max = 0;
    for (const { node } of this.#nodes()) max = Math.max(max, this.phandle(node));
    return max;
  }

  /** The first node whose phandle is `ph` (libfdt fdt_node_offset_by_phandle). */
  byPhandle(ph: number): number {
    if (ph === 0 || ph === 0xffffffff) throw new LibfdtError('BADPHANDLE', `phandle 0x${ph.toString(16)} is reserved`);
    for (const { node } of this.#nodes()) if (this.phandle(node) === ph) return node;
    throw new LibfdtError('NOTFOUND', `no node has phandle 0x${ph.toString(16)}`);
  }

  /** The node's full path ("/" for the root). */
  pathOf(node: number): string {
    for (const n of this.#nodes()) if (n.node === node) return n.path;
    throw new LibfdtError('BADOFFSET', `no node at 0x${node.toString(16)}`);
  }

  // ---- writing ---------------------------------------------------------------------------------

  /** Moves everything from `at + oldLen` to the end of the strings block so that it starts at `at + newLen`. */
  #splice(at: number, oldLen: number, newLen: number): void {
    const end = this.offStrings + this.sizeStrings;
    if (at + oldLen > end) throw new LibfdtError('BADOFFSET', 'splice past the end of the data');
    if (end - oldLen + newLen > this.totalSize) throw new LibfdtError('NOSPACE', 'the blob is full');
    this.buf.copyWithin(at + newLen, at + oldLen, end);
  }

  #spliceStruct(off: number, oldLen: number, newLen: number): void {
    this.#splice(this.offStruct + off, oldLen, newLen);
    this.#set(H.sizeDtStruct, this.sizeStruct + newLen - oldLen);
    this.#set(H.offDtStrings, this.offStrings + newLen - oldLen);
  }

  /** Offset of `name` in the strings block, appending it when absent; `added` says which. */
  #string(name: string): { off: number; added: boolean } {
    const hit = this.#strings.indexOf(`${name}\0`);
    if (hit >= 0) return { off: hit, added: false };
    const off = this.sizeStrings;
    this.#splice(this.offStrings + off, 0, name.length + 1);
    this.buf.set(latin1(`${name}\0`), this.offStrings + off);
    this.#set(H.sizeDtStrings, off + name.length + 1);
    this.#strings += `${name}\0`;
    return { off, added: true };
  }

  /**
   * Makes room for a `len`-byte value of property `name` in `node` and returns the absolute offset of the
   * value bytes (libfdt fdt_setprop_placeholder). The caller fills them; padding keeps stale bytes.
   */
  placeholder(node: number, name: string, len: number): number {
    const p = this.findProp(node, name);
    if (p >= 0) {
      this.#spliceStruct(p + PROP_HEADER, tagAlign(this.#u32(p + 4)), tagAlign(len));
      this.dv.setUint32(this.offStruct + p + 4, len);
      return this.offStruct + p + PROP_HEADER;
    }
    const at = this.#body(node);
    const s = this.#string(name);
    try {
      this.#spliceStruct(at, 0, PROP_HEADER + tagAlign(len));
    } catch (e) {
      if (s.added) {
        this.#set(H.sizeDtStrings, this.sizeStrings - name.length - 1);
        this.#strings = this.#strings.slice(0, s.off);
      }
      throw e;
    }
    const abs = this.offStruct + at;
    this.dv.setUint32(abs, FDT_PROP);
    this.dv.setUint32(abs + 4, len);
    this.dv.setUint32(abs + 8, s.off);
    return abs + PROP_HEADER;
  }

  /** Sets a property (libfdt fdt_setprop): resized in place when it exists, otherwise added first. */
  setProp(node: number, name: string, value: Uint8Array): void {
    this.buf.set(value, this.placeholder(node, name, value.length));
  }

  /** Adds an empty subnode first among the node's subnodes (libfdt fdt_add_subnode); EXISTS when one matches. */
  addSubnode(parent: number, name: string): number {
    if (this.child(parent, name) !== undefined) throw new LibfdtError('EXISTS', `node ${JSON.stringify(name)} exists`);
    let at = this.#body(parent);
    for (let t = this.#token(at); t.tag === FDT_PROP || t.tag === FDT_NOP; t = this.#token(at)) at = t.next;
    const nameLen = tagAlign(name.length + 1);
    this.#spliceStruct(at, 0, TAG + nameLen + TAG);
    const abs = this.offStruct + at;
    this.dv.setUint32(abs, FDT_BEGIN_NODE);
    this.buf.fill(0, abs + TAG, abs + TAG + nameLen);
    this.buf.set(latin1(name), abs + TAG);
    this.dv.setUint32(abs + TAG + nameLen, FDT_END_NODE);
    return at;
  }
}

/** Memreserve entries before the first one of size 0 (libfdt fdt_num_mem_rsv: the address is not looked at). */
function countReserve(dv: DataView, offRsv: number, total: number): number {
  let n = 0;
  for (let at = offRsv; ; at += RESERVE_ENTRY_SIZE, n++) {
    if (at + RESERVE_ENTRY_SIZE > total)
      throw new FormatError(FORMAT, 'TRUNCATED', at, 'Cannot read memreserve entry: no entry of size 0 before totalsize');
    if (dv.getBigUint64(at + 8) === 0n) return n;
  }
}

/** Structure block length of a v16 blob (no size_dt_struct): up to and including FDT_END. */
function v16StructSize(blob: Uint8Array, offStruct: number, total: number): number {
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let off = offStruct; off + 4 <= total; ) {
    const tag = dv.getUint32(off);
    if (tag === FDT_END) return off + 4 - offStruct;
    if (tag === FDT_BEGIN_NODE) {
      const nul = blob.subarray(off + 4, total).indexOf(0);
      if (nul < 0) break;
      off = tagAlign(off + 4 + nul + 1 - offStruct) + offStruct;
    } else if (tag === FDT_PROP) {
      if (off + 12 > total) break;
      off += PROP_HEADER + tagAlign(dv.getUint32(off + 4));
    } else off += TAG;
  }
  throw new FormatError(FORMAT, 'TRUNCATED', offStruct, 'Cannot parse structure block: no FDT_END before totalsize');
}
