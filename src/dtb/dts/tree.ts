/**
 * dtc's live tree (livetree.c): nodes and properties with labels, deletion flags and value markers
 * (phandle and path references, labels inside values). Merging and deletion follow dtc 1.6.1 exactly,
 * because property and node order in the blob depends on them.
 */
import type { SrcPos } from './errors.js';

/**
 * dtc's marker types: references and labels inside a value, and (TYPE_*) where each item the source
 * wrote begins and what it was, which `-O dts` uses to write the value back as it was written.
 */
export type MarkerType =
  | 'TYPE_NONE' | 'REF_PHANDLE' | 'REF_PATH' | 'LABEL'
  | 'TYPE_UINT8' | 'TYPE_UINT16' | 'TYPE_UINT32' | 'TYPE_UINT64' | 'TYPE_STRING';

export interface Marker {
  type: MarkerType;
  offset: number;
  ref: string;
}

/** A property value under construction: bytes plus markers at byte offsets. */
export class Data {
  constructor(public val: number[] = [], public markers: Marker[] = []) {}
  static fromLatin1(s: string): Data {
    const d = new Data();
    for (let i = 0; i < s.length; i++) d.val.push(s.charCodeAt(i));
    return d;
  }
  get len(): number {
    return this.val.length;
  }
  /** data_merge: append `o`, its markers shifted. */
  merge(o: Data): this {
    for (const m of o.markers) this.markers.push({ ...m, offset: m.offset + this.val.length });
    for (let i = 0; i < o.val.length; i++) this.val.push(o.val[i]!);
    return this;
  }
  mark(type: MarkerType, ref: string): this {
    this.markers.push({ type, offset: this.val.length, ref });
    return this;
  }
  /** data_append_integer, big-endian, `bits` wide. */
  appendInt(v: bigint, bits: number): this {
    // through numbers, 32 bits at a time (a BigInt shift and mask per byte made most of its time)
    if (bits > 32) this.#appendBits(Number(BigInt.asUintN(32, v >> 32n)), bits - 32);
    this.#appendBits(Number(BigInt.asUintN(Math.min(bits, 32), v)), Math.min(bits, 32));
    return this;
  }
  #appendBits(n: number, bits: number): void {
    for (let s = bits - 8; s >= 0; s -= 8) this.val.push(Math.floor(n / 2 ** s) & 0xff);
  }
  appendU32(v: number): this {
    this.val.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  appendLatin1(s: string): this {
    for (let i = 0; i < s.length; i++) this.val.push(s.charCodeAt(i) & 0xff);
    return this;
  }
  setU32(at: number, v: number): void {
    this.val[at] = (v >>> 24) & 0xff;
    this.val[at + 1] = (v >>> 16) & 0xff;
    this.val[at + 2] = (v >>> 8) & 0xff;
    this.val[at + 3] = v & 0xff;
  }
  /** data_insert_at_marker: insert bytes at marker `mi`'s offset; later markers move. */
  insertAt(mi: number, bytes: number[]): void {
    const at = this.markers[mi]!.offset;
    // (splice with a spread overflows the stack for a long path)
    this.val = [...this.val.slice(0, at), ...bytes, ...this.val.slice(at)];
    for (let i = mi + 1; i < this.markers.length; i++) this.markers[i]!.offset += bytes.length;
  }
}

export interface Label {
  label: string;
  deleted: boolean;
}

export class Property {
  labels: Label[] = [];
  deleted = false;
  constructor(public name: string, public val: Data, public pos?: SrcPos) {}
}

export class Node {
  name = '';
  props: Property[] = [];
  children: Node[] = [];
  labels: Label[] = [];
  parent: Node | undefined;
  deleted = false;
  omitIfUnused = false;
  isReferenced = false;
  phandle = 0;
  fullpath = '';
  /** Where the node was defined (its `{ … };`); later definitions merged into it in `morePos` (srcpos_extend). */
  pos: SrcPos | undefined;
  morePos: SrcPos[] = [];
  get basename(): string {
    const i = this.name.indexOf('@');
    return i < 0 ? this.name : this.name.slice(0, i);
  }
  liveChildren(): Node[] {
    return this.children.filter((c) => !c.deleted);
  }
  liveProps(): Property[] {
    return this.props.filter((p) => !p.deleted);
  }
  getProp(name: string): Property | undefined {
    return this.props.find((p) => !p.deleted && p.name === name);
  }
  getSubnode(name: string): Node | undefined {
    return this.children.find((c) => !c.deleted && c.name === name);
  }
}

/** Label lists that grew long, indexed by name (only addLabel adds to a list). */
const labelIndex = new WeakMap<Label[], Map<string, Label>>();

/** add_label: an existing label is revived; a new one goes to the front (dtc prepends). */
export function addLabel(labels: Label[], label: string): void {
  let index = labelIndex.get(labels);
  if (!index && labels.length >= 32) labelIndex.set(labels, (index = new Map(labels.map((l) => [l.label, l]))));
  const found = index ? index.get(label) : labels.find((l) => l.label === label);
  if (found) {
    found.deleted = false;
    return;
  }
  const l = { label, deleted: false };
  index?.set(label, l);
  labels.unshift(l);
}

/** Whether `labels` holds `label`, not deleted. */
export function hasLiveLabel(labels: Label[], label: string): boolean {
  const index = labelIndex.get(labels);
  const l = index ? index.get(label) : labels.find((x) => x.label === label);
  return l !== undefined && !l.deleted;
}

export function buildNode(props: Property[], children: Node[], pos?: SrcPos): Node {
  const n = new Node();
  n.props = props;
  n.children = children;
  n.pos = pos;
  for (const c of children) c.parent = n;
  return n;
}

export function deleteProperty(p: Property): void {
  p.deleted = true;
  for (const l of p.labels) l.deleted = true;
}

export function deleteNode(n: Node): void {
  n.deleted = true;
  for (const c of n.children) if (!c.deleted) deleteNode(c);
  for (const p of n.props) if (!p.deleted) deleteProperty(p);
  for (const l of n.labels) l.deleted = true;
}

export function addChild(parent: Node, child: Node): void {
  child.parent = parent;
  parent.children.push(child);
}

/**
 * The first of a node's children or properties named `name` (deleted ones too). Long lists get an
 * index that lives with the list and takes in what was pushed since (the parser and the checks only
 * ever push; a list that got shorter is indexed again), so many merges into one wide node stay linear.
 */
function firstByName<T extends { name: string }>(items: T[], name: string): T | undefined {
  if (items.length < 16) return items.find((it) => it.name === name);
  let ix = nameIndex.get(items) as NameIndex<T> | undefined;
  if (!ix || ix.seen > items.length) nameIndex.set(items, (ix = { map: new Map(), seen: 0 }));
  for (; ix.seen < items.length; ix.seen++) {
    const it = items[ix.seen]!;
    if (!ix.map.has(it.name)) ix.map.set(it.name, it);
  }
  return ix.map.get(name);
}
interface NameIndex<T> {
  map: Map<string, T>;
  seen: number;
}
const nameIndex = new WeakMap<object[], NameIndex<{ name: string }>>();

/**
 * merge_nodes: new properties replace same-named ones in place (even deleted ones), others are appended.
 * `onNodeLabel` hears of each label given to a node that was already in the tree.
 */
export function mergeNodes(old: Node, nu: Node, onNodeLabel?: (n: Node, label: string) => void): Node {
  old.deleted = false;
  for (const l of nu.labels) {
    addLabel(old.labels, l.label);
    onNodeLabel?.(old, l.label);
  }
  for (const np of nu.props) {
    if (np.deleted) {
      const victim = firstByName(old.props, np.name);
      if (victim) deleteProperty(victim);
      continue;
    }
    const op = firstByName(old.props, np.name);
    if (op) {
      for (const l of np.labels) addLabel(op.labels, l.label);
      op.val = np.val;
      op.deleted = false;
      op.pos = np.pos;
    } else old.props.push(np);
  }
  for (const nc of nu.children) {
    nc.parent = undefined;
    if (nc.deleted) {
      const victim = firstByName(old.children, nc.name);
      if (victim) deleteNode(victim);
      continue;
    }
    const oc = firstByName(old.children, nc.name);
    if (oc) mergeNodes(oc, nc, onNodeLabel);
    else addChild(old, nc);
  }
  if (!old.pos) {
    old.pos = nu.pos;
    old.morePos = nu.morePos;
  } else {
    if (nu.pos) old.morePos.push(nu.pos);
    for (const p of nu.morePos) old.morePos.push(p);
  }
  return old;
}

/**
 * get_node_by_path: slashes before each name are skipped, then the name runs to the next slash; an
 * empty rest is the node reached (if live). So "/a/" is a, but "//" and "/a//b" look for a child
 * named "" and find none.
 */
export function getNodeByPath(tree: Node, path: string): Node | undefined {
  let node = tree;
  for (let at = 0; ; ) {
    if (at >= path.length) return node.deleted ? undefined : node;
    while (path[at] === '/') at++;
    const slash = path.indexOf('/', at);
    const name = slash < 0 ? path.slice(at) : path.slice(at, slash);
    const next = node.children.find((c) => !c.deleted && c.name === name);
    if (!next) return undefined;
    if (slash < 0) return next;
    node = next;
    at = slash + 1;
  }
}

/** get_node_by_label: the first live node in pre-order holding `label`. */
export function getNodeByLabel(tree: Node, label: string): Node | undefined {
  for (const l of tree.labels) if (!l.deleted && l.label === label) return tree;
  for (const c of tree.children) {
    if (c.deleted) continue;
    const n = getNodeByLabel(c, label);
    if (n) return n;
  }
  return undefined;
}

/** dtc util.c join_path. */
export function joinPath(path: string, name: string): string {
  return path.endsWith('/') ? path + name : path + '/' + name;
}

/** dtc.c fill_fullpaths (live nodes only). */
export function fillFullpaths(node: Node, prefix: string): void {
  node.fullpath = joinPath(prefix, node.name);
  for (const c of node.children) if (!c.deleted) fillFullpaths(c, node.fullpath);
}
