/**
 * The device tree model: plain data, as a DTB stores it. Names are kept as latin1 strings (one char
 * per byte), so any byte sequence a blob holds survives a decode/encode round trip.
 */

/** One property: a name and its raw value bytes. */
export interface FdtProperty {
  name: string;
  value: Uint8Array;
}

/** One node: its name (with unit address, "" for the root), properties and children in blob order. */
export interface FdtNode {
  name: string;
  props: FdtProperty[];
  children: FdtNode[];
}

/** A memory reservation entry. u64 values are bigints: real trees reserve above 2^53 (all-ones sizes). */
export interface ReserveEntry {
  address: bigint;
  size: bigint;
}

/** A whole device tree blob. */
export interface Fdt {
  /** Header version: 17 (dtc default) or 16. */
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  reserve: ReserveEntry[];
  root: FdtNode;
}

/** Bytes → latin1 string (one char per byte). */
export function bytesToLatin1(b: Uint8Array): string {
  // TextDecoder('latin1') is windows-1252 in WHATWG, not a byte map
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** latin1 string → bytes; chars above 0xff are a caller mistake. */
export function latin1ToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`Cannot encode name ${JSON.stringify(s)}: character above U+00FF`);
    out[i] = c;
  }
  return out;
}

/** A node with no properties or children. */
export function fdtNode(name: string, props: FdtProperty[] = [], children: FdtNode[] = []): FdtNode {
  return { name, props, children };
}

/** Property value helpers (the `<cells>`, `"strings"` and `/bits/ 64` views of a value). */
export const propValue = {
  /** Big-endian u32 cells. */
  cells(...cells: number[]): Uint8Array {
    const out = new Uint8Array(cells.length * 4);
    const dv = new DataView(out.buffer);
    cells.forEach((c, i) => dv.setUint32(i * 4, c >>> 0));
    return out;
  },
  /** NUL-terminated strings back to back (a stringlist). */
  strings(...strs: string[]): Uint8Array {
    return new TextEncoder().encode(strs.map((s) => s + '\0').join(''));
  },
  u64(...vals: bigint[]): Uint8Array {
    const out = new Uint8Array(vals.length * 8);
    const dv = new DataView(out.buffer);
    vals.forEach((v, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, v)));
    return out;
  },
  empty(): Uint8Array {
    return new Uint8Array(0);
  },
};

/** The value as big-endian u32 cells; undefined when its length is not a multiple of 4. */
export function asCells(v: Uint8Array): number[] | undefined {
  if (v.length % 4) return undefined;
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(dv.getUint32(i));
  return out;
}

/** The value as a list of strings; undefined unless it is NUL-terminated UTF-8 text. */
export function asStrings(v: Uint8Array): string[] | undefined {
  if (v.length === 0 || v[v.length - 1] !== 0) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(v.subarray(0, v.length - 1)).split('\0');
  } catch {
    return undefined;
  }
}

/** The value as one string (up to the first NUL). */
export function asString(v: Uint8Array): string | undefined {
  return asStrings(v)?.[0];
}

/** The first property named `name`. */
export function getProp(node: FdtNode, name: string): FdtProperty | undefined {
  return node.props.find((p) => p.name === name);
}

/** The node at an absolute path ("/", "/cpus/cpu@0"); a component without "@" also matches "name@addr" as libfdt does. */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  if (!path.startsWith('/')) return undefined;
  let node: FdtNode | undefined = root;
  for (const part of path.split('/')) {
    if (part === '') continue;
    const exact: FdtNode | undefined = node.children.find((c) => c.name === part);
    node = exact ?? (part.includes('@') ? undefined : node.children.find((c) => c.name.split('@')[0] === part));
    if (!node) return undefined;
  }
  return node;
}

/** The node whose `phandle` (or `linux,phandle`) is `ph`. */
export function findByPhandle(root: FdtNode, ph: number): FdtNode | undefined {
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    const p = getProp(n, 'phandle') ?? getProp(n, 'linux,phandle');
    if (p && p.value.length === 4 && asCells(p.value)![0] === ph) return n;
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return undefined;
}
