/**
 * The bytes a FIT configuration signature covers: U-Boot v2023.01 boot/fdt_region.c
 * `fdt_find_regions` (flags 0) over the structure block, then the first `hashed-strings[1]` bytes of
 * the strings block. A node whose path is listed turns inclusion on for its own tags and properties;
 * the tags (not the properties) of its subnodes and of every ancestor are kept; `data*` properties
 * never are. Paths are compared exactly, unit addresses included.
 */
import { FormatError } from '../bytes/errors.js';
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_NOP, FDT_PROP } from '../dtb/layout.js';
import { FORMAT, MAX_REGION_DEPTH } from './fit-layout.js';

/** Where the blocks of a blob lie (absolute offsets into `bytes`). */
export interface BlobBlocks {
  readonly bytes: Uint8Array;
  readonly offStruct: number;
  readonly sizeStruct: number;
  readonly offStrings: number;
  readonly sizeStrings: number;
}

export interface Region {
  readonly offset: number;
  readonly size: number;
}

const fail = (at: number, msg: string): never => {
  throw new FormatError(FORMAT, 'BAD_FIELD', at, msg);
};

/** Header fields of a blob, read without checks beyond what the walk itself checks. */
export function blocksOf(bytes: Uint8Array): BlobBlocks {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { bytes, offStruct: dv.getUint32(8), offStrings: dv.getUint32(12), sizeStrings: dv.getUint32(32), sizeStruct: dv.getUint32(36) };
}

/**
 * fdt_find_regions: the struct-block regions for the nodes in `include`, without the properties in
 * `exclude`, ending with the FDT_END tag (plus, with `addStrings`, the whole strings block).
 */
export function findRegions(b: BlobBlocks, include: ReadonlySet<string>, exclude: readonly string[], addStrings = false): Region[] {
  const { bytes, offStruct: base, sizeStruct } = b;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = base + sizeStruct;
  const u32 = (at: number): number => {
    if (at + 4 > end) fail(at, 'Cannot parse structure block: a token runs past its end');
    return dv.getUint32(at);
  };
  const name = (at: number, limit: number): string => {
    const nul = bytes.subarray(at, limit).indexOf(0);
    if (nul < 0) fail(at, 'Cannot parse name: not NUL-terminated inside its block');
    let s = '';
    for (let i = at; i < at + nul; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  };
  const regions: { offset: number; size: number }[] = [];
  const stack: number[] = [];
  let path = '';
  let start = -1;
  let depth = -1;
  let want = 0;
  let next = 0;
  let expectEnd = false;
  let tag: number;
  do {
    const offset = next;
    tag = u32(base + offset);
    let include_ = 0;
    switch (tag) {
      case FDT_BEGIN_NODE: {
        const n = name(base + offset + 4, end);
        next = offset + 4 + n.length + 1;
        next += (4 - (next % 4)) % 4;
        break;
      }
      case FDT_PROP: {
        const len = u32(base + offset + 4);
        if (len > sizeStruct) fail(base + offset + 4, `Cannot parse property: length ${len} runs past the structure block`);
        next = offset + 12 + len + ((4 - (len % 4)) % 4);
        break;
      }
      case FDT_END_NODE: case FDT_NOP: case FDT_END:
        next = offset + 4;
        break;
      default:
        fail(base + offset, `Cannot parse fdt token: unknown tag 0x${tag.toString(16)}`);
    }
    if (next > sizeStruct) fail(base + offset, 'Cannot parse structure block: a token runs past its end');
    let stopAt = next;
    if (expectEnd && tag !== FDT_END) fail(base + offset, 'Cannot parse structure block: data after the root node');
    switch (tag) {
      case FDT_PROP: {
        include_ = want >= 2 ? 1 : 0;
        stopAt = offset;
        const nameOff = u32(base + offset + 8);
        if (nameOff >= b.sizeStrings) fail(base + offset + 8, `Cannot parse property name: string offset ${nameOff} is outside the strings block`);
        const pn = name(b.offStrings + nameOff, b.offStrings + b.sizeStrings);
        if (exclude.includes(pn)) include_ = 0;
        break;
      }
      case FDT_NOP:
        include_ = want >= 2 ? 1 : 0;
        stopAt = offset;
        break;
      case FDT_BEGIN_NODE: {
        depth++;
        if (depth === MAX_REGION_DEPTH) throw new FormatError(FORMAT, 'LIMIT', base + offset, `Cannot accept node: nesting deeper than ${MAX_REGION_DEPTH}`);
        const n = name(base + offset + 4, end);
        if (depth === 0 && n) fail(base + offset, 'Cannot parse structure block: the root node has a name');
        path = depth === 0 ? '/' : depth === 1 ? `/${n}` : `${path}/${n}`;
        stack[depth] = want;
        if (want === 1) stopAt = offset;
        if (include.has(path)) want = 2;
        else if (want) want--;
        else stopAt = offset;
        include_ = want;
        break;
      }
      case FDT_END_NODE:
        if (depth < 0) fail(base + offset, 'Cannot parse structure block: END_NODE without a node');
        include_ = want;
        want = stack[depth--]!;
        path = depth <= 0 ? (depth === 0 ? '/' : '') : path.slice(0, path.lastIndexOf('/'));
        if (depth === -1) expectEnd = true;
        break;
      case FDT_END:
        include_ = 1;
        break;
    }
    if (include_ && start === -1) {
      const last = regions[regions.length - 1];
      if (last && offset === last.offset + last.size - base) start = regions.pop()!.offset - base;
      else start = offset;
    }
    if (!include_ && start !== -1) {
      regions.push({ offset: base + start, size: stopAt - start });
      start = -1;
    }
  } while (tag !== FDT_END);
  if (next !== sizeStruct) fail(base + next, 'Cannot parse structure block: FDT_END is not at its end');
  regions.push({ offset: base + start, size: next - start + (addStrings ? b.sizeStrings : 0) });
  return regions;
}

/** The bytes of the regions, back to back. */
export function regionBytes(bytes: Uint8Array, regions: readonly Region[]): Uint8Array {
  const out = new Uint8Array(regions.reduce((n, r) => n + r.size, 0));
  let at = 0;
  for (const r of regions) {
    if (r.offset + r.size > bytes.length) throw new FormatError(FORMAT, 'TRUNCATED', r.offset, 'Cannot read signed region: it runs past the blob');
    out.set(bytes.subarray(r.offset, r.offset + r.size), at);
    at += r.size;
  }
  return out;
}
