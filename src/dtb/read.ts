/**
 * DTB reader: `decodeFdt` (whole tree) and `openFdt` (random access: lookups by path and phandle walk
 * the structure block without building the tree). Every offset and size in the header is checked
 * against the blob before use; every name must be terminated inside its block.
 */
import { FormatError } from '../bytes/errors.js';
import type { RandomAccess } from '../bytes/random.js';
import {
  FORMAT, FDT_MAGIC, FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END, FdtHeader, FDT_V16_SIZE,
  FDT_V17_SIZE, RESERVE_ENTRY_SIZE, pad4,
} from './layout.js';
import { bytesToLatin1, type Fdt, type FdtNode, type FdtProperty, type ReserveEntry } from './model.js';

export interface DecodeOptions {
  /** Deepest node nesting accepted (root = 1). Default 256. */
  readonly maxDepth?: number;
  /** Most memory reservation entries accepted. Default 65536. */
  readonly maxReserve?: number;
}

/** Header fields plus where each block lies, all checked against the blob. */
export interface FdtLayout extends FdtHeader {
  /** Structure block end (v16 blobs have no size_dt_struct: the end of the blob then). */
  readonly structEnd: number;
}

const fail = (code: FormatError['code'], at: number, msg: string): never => {
  throw new FormatError(FORMAT, code, at, msg);
};

/** Reads and checks the header of a blob of `length` bytes available. */
export function decodeHeader(bytes: Uint8Array, length = bytes.length): FdtLayout {
  if (bytes.length < 4) fail('TRUNCATED', 0, `Cannot read fdt header: need ${FDT_V16_SIZE} bytes, ${bytes.length} left`);
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (magic !== FDT_MAGIC) fail('BAD_MAGIC', 0, `Cannot parse fdt header: magic is 0x${magic.toString(16)}, not 0xd00dfeed`);
  if (bytes.length < FDT_V16_SIZE) fail('TRUNCATED', 0, `Cannot read fdt header: need ${FDT_V16_SIZE} bytes, ${bytes.length} left`);
  const h = FdtHeader.decode(bytes.length >= FDT_V17_SIZE ? bytes : padTo40(bytes));
  // libfdt's fdt_check_header: a later version is read as 17 when it says it is compatible with 17
  if (h.version < 16)
    fail('UNSUPPORTED', FdtHeader.offsets.version, `Cannot parse fdt header: version ${h.version} (versions from 16 are read)`);
  if (h.lastCompVersion > 17 || h.lastCompVersion > h.version)
    fail('UNSUPPORTED', FdtHeader.offsets.lastCompVersion, `Cannot parse fdt header: last_comp_version ${h.lastCompVersion}`);
  const hdrSize = h.version >= 17 ? FDT_V17_SIZE : FDT_V16_SIZE;
  if (h.version >= 17 && bytes.length < FDT_V17_SIZE) fail('TRUNCATED', 0, `Cannot read fdt header: need 40 bytes, ${bytes.length} left`);
  if (h.totalSize < hdrSize) fail('BAD_FIELD', FdtHeader.offsets.totalSize, `Cannot parse fdt header: totalsize ${h.totalSize} is smaller than the header`);
  if (h.totalSize > length)
    fail('TRUNCATED', FdtHeader.offsets.totalSize, `Cannot read fdt: totalsize is ${h.totalSize}, only ${length} bytes present`);
  const total = h.totalSize;
  const rsv = h.offMemRsvmap;
  if (rsv < hdrSize || rsv % 8 !== 0 || rsv > total - RESERVE_ENTRY_SIZE)
    fail('BAD_FIELD', FdtHeader.offsets.offMemRsvmap, `Cannot parse fdt header: off_mem_rsvmap 0x${rsv.toString(16)} is outside the blob or misaligned`);
  if (h.offDtStruct < hdrSize || h.offDtStruct % 4 !== 0 || h.offDtStruct > total)
    fail('BAD_FIELD', FdtHeader.offsets.offDtStruct, `Cannot parse fdt header: off_dt_struct 0x${h.offDtStruct.toString(16)} is outside the blob or misaligned`);
  let structEnd = total;
  if (h.version >= 17) {
    if (h.sizeDtStruct > total - h.offDtStruct)
      fail('BAD_FIELD', FdtHeader.offsets.sizeDtStruct, `Cannot parse fdt header: size_dt_struct ${h.sizeDtStruct} runs past totalsize`);
    structEnd = h.offDtStruct + h.sizeDtStruct;
  } else h.sizeDtStruct = 0;
  if (h.offDtStrings < hdrSize || h.offDtStrings > total)
    fail('BAD_FIELD', FdtHeader.offsets.offDtStrings, `Cannot parse fdt header: off_dt_strings 0x${h.offDtStrings.toString(16)} is outside the blob`);
  if (h.sizeDtStrings > total - h.offDtStrings)
    fail('BAD_FIELD', FdtHeader.offsets.sizeDtStrings, `Cannot parse fdt header: size_dt_strings ${h.sizeDtStrings} runs past totalsize`);
  return { ...h, structEnd };
}

function padTo40(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(FDT_V17_SIZE);
  out.set(b);
  return out;
}

/** The memory reservation entries, up to the terminator: an entry of size 0 (libfdt, dtc and the kernel stop there). */
export function decodeReserve(bytes: Uint8Array, h: FdtLayout, max = 65536): ReserveEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ReserveEntry[] = [];
  for (let at = h.offMemRsvmap; ; at += RESERVE_ENTRY_SIZE) {
    if (at + RESERVE_ENTRY_SIZE > h.totalSize) fail('TRUNCATED', at, 'Cannot read memreserve entry: no terminator before totalsize');
    const address = dv.getBigUint64(at), size = dv.getBigUint64(at + 8);
    if (size === 0n) return out;
    if (out.length >= max) fail('LIMIT', at, `Cannot accept memreserve entries: more than ${max}`);
    out.push({ address, size });
  }
}

/** One token of the structure block. */
export type Token =
  | { readonly kind: typeof FDT_BEGIN_NODE; readonly at: number; readonly name: Uint8Array; readonly next: number }
  | { readonly kind: typeof FDT_PROP; readonly at: number; readonly nameOff: number; readonly value: Uint8Array; readonly next: number }
  | { readonly kind: typeof FDT_END_NODE | typeof FDT_NOP | typeof FDT_END; readonly at: number; readonly next: number };

/** Walks structure-block tokens with every bound checked (libfdt fdt_next_tag). */
export class TokenReader {
  readonly dv: DataView;
  constructor(readonly bytes: Uint8Array, readonly h: FdtLayout) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** The token at absolute offset `at`. */
  token(at: number): Token {
    const end = this.h.structEnd;
    if (at + 4 > end) fail('TRUNCATED', at, 'Cannot read fdt token: structure block ends');
    const kind = this.dv.getUint32(at);
    switch (kind) {
      case FDT_BEGIN_NODE: {
        const s = at + 4;
        const nul = this.bytes.subarray(s, end).indexOf(0);
        if (nul < 0) fail('TRUNCATED', s, 'Cannot parse node name: not terminated inside the structure block');
        const next = s + nul + 1 + pad4(s + nul + 1 - this.h.offDtStruct);
        if (next > end) fail('TRUNCATED', s, 'Cannot parse node name: padding runs past the structure block');
        return { kind, at, name: this.bytes.subarray(s, s + nul), next };
      }
      case FDT_PROP: {
        if (at + 12 > end) fail('TRUNCATED', at, 'Cannot read property header: structure block ends');
        const len = this.dv.getUint32(at + 4), nameOff = this.dv.getUint32(at + 8);
        const v = at + 12;
        if (len > end - v) fail('TRUNCATED', at + 4, `Cannot read property value: length ${len} runs past the structure block`);
        const next = v + len + pad4(len);
        if (next > end) fail('TRUNCATED', v + len, 'Cannot read property padding: structure block ends');
        return { kind, at, nameOff, value: this.bytes.subarray(v, v + len), next };
      }
      case FDT_END_NODE: case FDT_NOP: case FDT_END:
        return { kind, at, next: at + 4 };
      default:
        return fail('BAD_FIELD', at, `Cannot parse fdt token: unknown tag 0x${kind.toString(16)}`);
    }
  }
  /** A property name from the strings block, checked to be terminated inside it. */
  string(nameOff: number, at: number): string {
    const h = this.h;
    if (nameOff >= h.sizeDtStrings) fail('BAD_FIELD', at + 8, `Cannot parse property name: string offset ${nameOff} is outside the strings block`);
    const s = h.offDtStrings + nameOff;
    const nul = this.bytes.subarray(s, h.offDtStrings + h.sizeDtStrings).indexOf(0);
    if (nul < 0) fail('TRUNCATED', s, 'Cannot parse property name: not terminated inside the strings block');
    return bytesToLatin1(this.bytes.subarray(s, s + nul));
  }
}

/** A decoded blob plus what the model does not carry: free space after the strings block. */
export interface DecodedFdt extends Fdt {
  /** totalsize minus the end of the last block (dtc -p/-S/-a padding, libfdt free space). */
  readonly slack: number;
}

/**
 * Decodes a whole DTB. Values are zero-copy views of `bytes`.
 * @example
 * const fdt = decodeFdt(readFileSync('board.dtb'));
 * findNode(fdt.root, '/chosen');
 */
export function decodeFdt(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedFdt {
  const maxDepth = opts.maxDepth ?? 256;
  const h = decodeHeader(bytes);
  const reserve = decodeReserve(bytes, h, opts.maxReserve);
  const r = new TokenReader(bytes, h);
  let at = h.offDtStruct;
  let t = r.token(at);
  while (t.kind === FDT_NOP) t = r.token((at = t.next));
  if (t.kind !== FDT_BEGIN_NODE) fail('BAD_FIELD', at, 'Cannot parse structure block: it does not start with a node');
  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    switch (t.kind) {
      case FDT_BEGIN_NODE: {
        if (root && stack.length === 0) fail('BAD_FIELD', t.at, 'Cannot parse structure block: a second root node');
        if (stack.length >= maxDepth) fail('LIMIT', t.at, `Cannot accept node: nesting deeper than ${maxDepth}`);
        const node: FdtNode = { name: bytesToLatin1(t.name), props: [], children: [] };
        if (stack.length) {
          const parent = stack[stack.length - 1]!;
          parent.children.push(node);
        } else root = node;
        stack.push(node);
        break;
      }
      case FDT_PROP: {
        const parent = stack[stack.length - 1];
        if (!parent) return fail('BAD_FIELD', t.at, 'Cannot parse property: outside any node');
        if (parent.children.length) fail('BAD_FIELD', t.at, 'Cannot parse property: it follows a subnode');
        const p: FdtProperty = { name: r.string(t.nameOff, t.at), value: t.value };
        parent.props.push(p);
        break;
      }
      case FDT_END_NODE:
        if (!stack.pop()) fail('BAD_FIELD', t.at, 'Cannot parse structure block: END_NODE without a node');
        break;
      case FDT_NOP:
        break;
      case FDT_END: {
        if (stack.length || !root) fail('BAD_FIELD', t.at, 'Cannot parse structure block: END inside a node');
        const blocksEnd = Math.max(t.next, h.offDtStrings + h.sizeDtStrings, h.offMemRsvmap + (reserve.length + 1) * RESERVE_ENTRY_SIZE);
        return {
          version: h.version, lastCompVersion: h.lastCompVersion, bootCpuidPhys: h.bootCpuidPhys, reserve, root: root!,
          slack: Math.max(0, h.totalSize - blocksEnd),
        };
      }
    }
    if (t.kind === FDT_END_NODE && stack.length === 0) {
      // after the root closes only NOPs and END may follow
      t = r.token(t.next);
      while (t.kind === FDT_NOP) t = r.token(t.next);
      if (t.kind !== FDT_END) fail('BAD_FIELD', t.at, 'Cannot parse structure block: data after the root node');
      continue;
    }
    t = r.token(t.next);
  }
}

/** Random access to a blob: lookups walk tokens, nothing is decoded up front beyond the header. */
export class FdtView {
  readonly reader: TokenReader;
  readonly header: FdtLayout;
  constructor(readonly bytes: Uint8Array, readonly opts: DecodeOptions = {}) {
    this.header = decodeHeader(bytes);
    this.reader = new TokenReader(bytes, this.header);
  }
  /** Offset of the root node's BEGIN_NODE token. */
  rootOffset(): number {
    let t = this.reader.token(this.header.offDtStruct);
    while (t.kind === FDT_NOP) t = this.reader.token(t.next);
    if (t.kind !== FDT_BEGIN_NODE) fail('BAD_FIELD', t.at, 'Cannot parse structure block: it does not start with a node');
    return t.at;
  }
  /** The node's name. */
  name(node: number): string {
    const t = this.reader.token(node);
    if (t.kind !== FDT_BEGIN_NODE) return fail('BAD_FIELD', node, 'Cannot parse node: not a BEGIN_NODE token');
    return bytesToLatin1(t.name);
  }
  /** The node's properties, in order. */
  *properties(node: number): Generator<FdtProperty> {
    let t = this.reader.token(this.reader.token(node).next);
    for (; t.kind === FDT_PROP || t.kind === FDT_NOP; t = this.reader.token(t.next))
      if (t.kind === FDT_PROP) yield { name: this.reader.string(t.nameOff, t.at), value: t.value };
  }
  property(node: number, name: string): Uint8Array | undefined {
    for (const p of this.properties(node)) if (p.name === name) return p.value;
    return undefined;
  }
  /** Offsets of the node's direct children. */
  *subnodes(node: number): Generator<number> {
    const max = this.opts.maxDepth ?? 256;
    let depth = 0;
    let t = this.reader.token(this.reader.token(node).next);
    for (;;) {
      if (t.kind === FDT_BEGIN_NODE) {
        if (depth === 0) yield t.at;
        if (++depth > max) fail('LIMIT', t.at, `Cannot accept node: nesting deeper than ${max}`);
      } else if (t.kind === FDT_END_NODE) {
        if (depth-- === 0) return;
      } else if (t.kind === FDT_END) fail('BAD_FIELD', t.at, 'Cannot parse structure block: END inside a node');
      t = this.reader.token(t.next);
    }
  }
  /** Offset of the node at `path`, or undefined (libfdt fdt_path_offset: "name" matches "name@unit"). */
  pathOffset(path: string): number | undefined {
    if (!path.startsWith('/')) return undefined;
    let node = this.rootOffset();
    for (const part of path.split('/')) {
      if (part === '') continue;
      let found: number | undefined;
      for (const c of this.subnodes(node)) {
        const n = this.name(c);
        if (n === part || (!part.includes('@') && n.split('@')[0] === part)) {
          found = c;
          break;
        }
      }
      if (found === undefined) return undefined;
      node = found;
    }
    return node;
  }
  /** Offset of the node whose phandle is `ph` (libfdt fdt_node_offset_by_phandle). */
  phandleOffset(ph: number): number | undefined {
    if (ph === 0 || ph === 0xffffffff) return undefined;
    const max = this.opts.maxDepth ?? 256;
    let depth = 0;
    for (let t = this.reader.token(this.rootOffset()); t.kind !== FDT_END; t = this.reader.token(t.next)) {
      if (t.kind === FDT_BEGIN_NODE) {
        if (++depth > max) fail('LIMIT', t.at, `Cannot accept node: nesting deeper than ${max}`);
        const v = this.property(t.at, 'phandle') ?? this.property(t.at, 'linux,phandle');
        if (v && v.length === 4 && new DataView(v.buffer, v.byteOffset, 4).getUint32(0) === ph) return t.at;
      } else if (t.kind === FDT_END_NODE) depth--;
    }
    return undefined;
  }
  /** The whole subtree at `node` as a model node. */
  node(node: number): FdtNode {
    const max = this.opts.maxDepth ?? 256;
    const build = (at: number, depth: number): FdtNode => {
      if (depth > max) fail('LIMIT', at, `Cannot accept node: nesting deeper than ${max}`);
      return { name: this.name(at), props: [...this.properties(at)], children: [...this.subnodes(at)].map((c) => build(c, depth + 1)) };
    };
    return build(node, 1);
  }
}

/**
 * Opens a blob for random access. The header and blocks are read once; lookups then walk tokens.
 * @example
 * const v = await openFdt(await fileAccess('board.dtb'));
 * v.property(v.pathOffset('/chosen')!, 'bootargs');
 */
export async function openFdt(ra: RandomAccess, opts: DecodeOptions = {}): Promise<FdtView> {
  const head = await ra.readAt(0, Math.min(ra.size, FDT_V17_SIZE));
  const h = decodeHeader(head, ra.size);
  return new FdtView(await ra.readAt(0, h.totalSize), opts);
}
