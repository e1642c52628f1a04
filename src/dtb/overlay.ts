/**
 * Applying device tree overlays as dtc 1.6.1's `fdtoverlay` does (`fdtoverlay.c` over libfdt's
 * `fdt_overlay.c`), byte for byte. Per overlay, in order:
 *
 * 1. every `phandle`/`linux,phandle` in the overlay is raised by the base's highest phandle;
 * 2. `__local_fixups__` raises the references to those phandles inside the overlay;
 * 3. `__fixups__` ("path:property:offset" per label) write the phandle of the base node that the base's
 *    `__symbols__` names for the label (a missing label fails with FDT_ERR_NOTFOUND, no output);
 * 4. each fragment's `__overlay__` is merged into its target (`target = <phandle>` or `target-path`):
 *    properties are set (new ones go first in the node), subnodes added (new ones go first) or merged;
 * 5. the overlay's `__symbols__` that point into an `__overlay__` are added to the base's `__symbols__`,
 *    rewritten to the target's path (the node is created, first among the root's subnodes, if missing).
 *
 * The base is edited in place in a buffer that starts at its totalsize and grows by 64 KiB each time
 * libfdt runs out of room, the whole overlay being applied again from the start; the result is then
 * packed (fdt_pack). inplace.ts models the buffer, stale padding bytes included.
 *
 * Where libfdt 1.6.1 crashes, hangs or reads out of bounds, this module throws FormatError instead:
 * aliases that refer to themselves (libfdt recurses until the stack overflows), fixup offsets outside
 * their property (fdtoverlay retries forever on the FDT_ERR_NOSPACE this gives), offsets past 2^32-4.
 */
import { FormatError, type FormatErrorCode } from '../bytes/errors.js';
import { FORMAT, FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END } from './layout.js';
import { bytesToLatin1 } from './model.js';
import { decodeFdt, decodeHeader, TokenReader } from './read.js';
import { InPlaceFdt, LibfdtError, cString, lookupPath, nameMatches, type FdtErr } from './inplace.js';

export interface OverlayOptions {
  /** Names of the overlays for messages (fdtoverlay names the file: "Failed to apply 'x.dtbo'"). */
  readonly names?: readonly string[];
  /** Deepest node nesting accepted in the base and the overlays (root = 1). Default 256. */
  readonly maxDepth?: number;
  /** Largest buffer the result may need (FormatError LIMIT beyond). Default 256 MiB. */
  readonly maxSize?: number;
}

/** fdtoverlay's BUF_INCREMENT: the working buffer grows by this much each time an overlay does not fit. */
const BUF_INCREMENT = 65536;

interface OvProp {
  readonly name: string;
  value: Uint8Array;
  /** Offset of the FDT_PROP token in the overlay blob. */
  readonly at: number;
}
interface OvNode {
  readonly name: string;
  readonly props: OvProp[];
  readonly children: OvNode[];
  /** Offset of the FDT_BEGIN_NODE token in the overlay blob. */
  readonly at: number;
}

/** The overlay tree seen through libfdt's lookups: first match wins, "name" also matches "name@unit". */
const ovTree = (root: OvNode) => ({
  root,
  child: (n: OvNode, name: string) => n.children.find((c) => nameMatches(c.name, name)),
  prop: (n: OvNode, name: string) => n.props.find((p) => p.name === name)?.value,
});
const ovProp = (n: OvNode, name: string): OvProp | undefined => n.props.find((p) => p.name === name);

const CODES: Partial<Record<FdtErr, FormatErrorCode>> = { NOPHANDLES: 'LIMIT', TRUNCATED: 'TRUNCATED', BADSTRUCTURE: 'BAD_FIELD' };

/**
 * Applies overlays to a base blob in sequence and returns the packed result, as
 * `fdtoverlay -i base -o out ov1 ov2 …` writes it. The inputs are not modified.
 * @example
 * const out = applyOverlays(readFileSync('board.dtb'), [readFileSync('hat.dtbo')]);
 */
export function applyOverlays(base: Uint8Array, overlays: readonly Uint8Array[], opts: OverlayOptions = {}): Uint8Array {
  const maxDepth = opts.maxDepth ?? 256, maxSize = opts.maxSize ?? 256 * 1024 * 1024;
  validate(base, 'the base', maxDepth);
  const trees = overlays.map((o, i) => {
    const name = opts.names?.[i] ?? `#${i + 1}`;
    validate(o, `overlay '${name}'`, maxDepth);
    return { name, root: overlayTree(o) };
  });
  let cur = base.subarray(0, decodeHeader(base).totalSize);
  let bufLen = cur.length;
  let fdt: InPlaceFdt | undefined;
  for (const ov of trees) {
    let buf = new Uint8Array(bufLen);
    for (;;) {
      try {
        fdt = InPlaceFdt.open(cur, buf);
      } catch (e) {
        throw e instanceof LibfdtError ? new FormatError(FORMAT, 'BAD_FIELD', 0, `Cannot copy the base: ${e.message}`) : e;
      }
      try {
        applyOne(fdt, clone(ov.root), ov.name);
        break;
      } catch (e) {
        if (!(e instanceof LibfdtError)) throw e;
        if (e.err !== 'NOSPACE') throw fail(e.err, 0, ov.name, e.detail);
        // realloc: what the failed attempt left in the buffer stays, the new tail is zero
        bufLen += BUF_INCREMENT;
        if (bufLen > maxSize) throw new FormatError(FORMAT, 'LIMIT', 0, `Cannot apply overlay '${ov.name}': the result needs more than ${maxSize} bytes`);
        const grown = new Uint8Array(bufLen);
        grown.set(buf);
        buf = grown;
      }
    }
    cur = buf;
  }
  return (fdt ?? InPlaceFdt.open(cur, new Uint8Array(cur.length))).pack();
}

/** A checked blob whose root node starts the structure block (libfdt takes offset 0 as the root). */
function validate(bytes: Uint8Array, what: string, maxDepth: number): void {
  try {
    decodeFdt(bytes, { maxDepth });
    const h = decodeHeader(bytes);
    if (new TokenReader(bytes, h).token(h.offDtStruct).kind !== FDT_BEGIN_NODE)
      throw new FormatError(FORMAT, 'BAD_FIELD', h.offDtStruct, 'Cannot parse structure block: the root node is not its first token');
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(e.format, e.code, e.offset, `${e.detail} in ${what}`, { cause: e });
    throw e;
  }
}

/** The overlay as a tree that remembers where each node and property lies in the blob (for errors). */
function overlayTree(bytes: Uint8Array): OvNode {
  const h = decodeHeader(bytes);
  const r = new TokenReader(bytes, h);
  const stack: OvNode[] = [];
  let root: OvNode | undefined;
  for (let t = r.token(h.offDtStruct); t.kind !== FDT_END; t = r.token(t.next)) {
    if (t.kind === FDT_BEGIN_NODE) {
      const n: OvNode = { name: bytesToLatin1(t.name), props: [], children: [], at: t.at };
      if (stack.length) stack[stack.length - 1]!.children.push(n);
      else root ??= n;
      stack.push(n);
    } else if (t.kind === FDT_PROP) stack[stack.length - 1]!.props.push({ name: r.string(t.nameOff, t.at), value: t.value, at: t.at });
    else if (t.kind === FDT_END_NODE) stack.pop();
  }
  return root!;
}

/** A private copy to edit (fdtoverlay copies the overlay afresh for every attempt). */
function clone(n: OvNode): OvNode {
  return { name: n.name, at: n.at, props: n.props.map((p) => ({ name: p.name, at: p.at, value: p.value.slice() })), children: n.children.map(clone) };
}

/** Runs `fn`; a libfdt failure other than "no room" becomes a FormatError at `at` in the overlay. */
function at<T>(where: number, ov: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LibfdtError && e.err !== 'NOSPACE') throw fail(e.err, where, ov, e.detail);
    throw e;
  }
}

function fail(err: FdtErr, where: number, ov: string, detail: string): FormatError {
  return new FormatError(FORMAT, CODES[err] ?? 'BAD_FIELD', where, `Cannot apply overlay '${ov}': ${detail} (FDT_ERR_${err})`);
}

const u32 = (v: Uint8Array, i = 0): number => new DataView(v.buffer, v.byteOffset + i, 4).getUint32(0);
const setU32 = (v: Uint8Array, i: number, x: number): void => new DataView(v.buffer, v.byteOffset + i, 4).setUint32(0, x);

function applyOne(fdt: InPlaceFdt, root: OvNode, ov: string): void {
  const delta = at(0, ov, () => fdt.maxPhandle());
  adjustPhandles(root, delta, ov);
  updateLocalReferences(root, delta, ov);
  resolveFixups(fdt, root, ov);
  for (const frag of root.children) {
    const body = frag.children.find((c) => nameMatches(c.name, '__overlay__'));
    if (!body) continue;
    const target = at(frag.at, ov, () => fragmentTarget(fdt, frag, ov)).node;
    at(frag.at, ov, () => merge(fdt, target, body));
  }
  updateSymbols(fdt, root, ov);
}

/** Step 1: overlay phandles move above the base's (libfdt overlay_adjust_local_phandles). */
function adjustPhandles(node: OvNode, delta: number, ov: string): void {
  for (const name of ['phandle', 'linux,phandle']) {
    const p = ovProp(node, name);
    if (!p) continue;
    if (p.value.length !== 4) throw fail('BADPHANDLE', p.at, ov, `${name} is ${p.value.length} bytes, not 4`);
    const v = u32(p.value) + delta;
    if (v >= 0xffffffff) throw fail('NOPHANDLES', p.at, ov, `${name} 0x${u32(p.value).toString(16)} plus the base's highest phandle 0x${delta.toString(16)} passes 0xfffffffe`);
    setU32(p.value, 0, v);
  }
  for (const c of node.children) adjustPhandles(c, delta, ov);
}

/** Step 2: references listed in __local_fixups__ follow (libfdt overlay_update_local_references). */
function updateLocalReferences(root: OvNode, delta: number, ov: string): void {
  const fixups = root.children.find((c) => nameMatches(c.name, '__local_fixups__'));
  if (fixups) walkLocalFixups(root, fixups, delta, ov);
}

function walkLocalFixups(tree: OvNode, fix: OvNode, delta: number, ov: string): void {
  for (const f of fix.props) {
    if (f.value.length % 4) throw fail('BADOVERLAY', f.at, ov, `__local_fixups__ entry "${f.name}" is ${f.value.length} bytes, not a multiple of 4`);
    const target = ovProp(tree, f.name);
    if (!target) throw fail('BADOVERLAY', f.at, ov, `__local_fixups__ names property "${f.name}", which the overlay node "${tree.name}" does not have`);
    for (let i = 0; i < f.value.length; i += 4) {
      const off = u32(f.value, i);
      if (off + 4 > target.value.length)
        throw fail('BADOVERLAY', f.at + 12 + i, ov, `__local_fixups__ offset ${off} is outside property "${f.name}" (${target.value.length} bytes)`);
      setU32(target.value, off, (u32(target.value, off) + delta) % 2 ** 32);
    }
  }
  for (const c of fix.children) {
    const t = tree.children.find((n) => nameMatches(n.name, c.name));
    if (!t) throw fail('BADOVERLAY', c.at, ov, `__local_fixups__ names node "${c.name}", which the overlay does not have under "${tree.name}"`);
    walkLocalFixups(t, c, delta, ov);
  }
}

/** C strtoul(s, &end, 10) then a cast to int and back to uint32: whitespace, a sign, digits; the whole rest must be used. */
function fixupOffset(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(s);
  if (!m) return undefined;
  let v = BigInt(m[2]!);
  if (v >= 2n ** 64n) v = 2n ** 64n - 1n; // ULONG_MAX on overflow
  if (m[1] === '-') v = (2n ** 64n - v) % 2n ** 64n;
  return Number(v % 2n ** 32n);
}

/** Step 3: references to base labels get the base's phandles (libfdt overlay_fixup_phandles). */
function resolveFixups(fdt: InPlaceFdt, root: OvNode, ov: string): void {
  const fixups = root.children.find((c) => nameMatches(c.name, '__fixups__'));
  if (!fixups) return;
  let symbols: number | undefined;
  try {
    symbols = fdt.path('/__symbols__');
  } catch (e) {
    if (!(e instanceof LibfdtError && e.err === 'NOTFOUND')) throw e;
  }
  const t = ovTree(root);
  const cache = new Map<string, number>(); // the base does not change during this step
  for (const f of fixups.props) {
    const label = f.name;
    let rest = f.value, pos = f.at + 12;
    do {
      const bad = (why: string): FormatError => fail('BADOVERLAY', pos, ov, `__fixups__ entry for label "${label}" ${why}`);
      const nul = rest.indexOf(0);
      if (nul < 0) throw bad('is not NUL-terminated');
      const entry = bytesToLatin1(rest.subarray(0, nul));
      const c1 = entry.indexOf(':'), c2 = entry.indexOf(':', c1 + 1);
      if (c1 < 0 || c1 === entry.length - 1 || c2 < 0 || c2 === c1 + 1) throw bad(`${JSON.stringify(entry)} is not "path:property:offset"`);
      const off = fixupOffset(entry.slice(c2 + 1));
      if (off === undefined) throw bad(`${JSON.stringify(entry)} has no decimal offset`);
      const path = entry.slice(0, c1), name = entry.slice(c1 + 1, c2);
      let ph = cache.get(label);
      if (ph === undefined) {
        if (symbols === undefined) throw fail('NOTFOUND', pos, ov, `label "${label}" is needed but the base has no /__symbols__ (compile it with dtc -@)`);
        const sym = fdt.prop(symbols, label);
        if (!sym) throw fail('NOTFOUND', pos, ov, `label "${label}" is not in the base's /__symbols__`);
        const node = at(pos, ov, () => fdt.path(cString(sym)));
        ph = fdt.phandle(node);
        if (!ph) throw fail('NOTFOUND', pos, ov, `label "${label}" names ${JSON.stringify(cString(sym))}, which has no phandle`);
        cache.set(label, ph);
      }
      let node: OvNode;
      try {
        node = lookupPath(t, path);
      } catch (e) {
        if (e instanceof LibfdtError) throw fail(e.err === 'NOTFOUND' ? 'BADOVERLAY' : e.err, pos, ov, `__fixups__ path: ${e.detail}`);
        throw e;
      }
      const p = ovProp(node, name);
      if (!p) throw fail('NOTFOUND', pos, ov, `__fixups__ names property "${name}", which ${JSON.stringify(path)} does not have`);
      if (off + 4 > p.value.length) throw fail('NOSPACE', pos, ov, `__fixups__ offset ${off} is outside property "${name}" (${p.value.length} bytes)`);
      setU32(p.value, off, ph);
      pos += nul + 1;
      rest = rest.subarray(nul + 1);
    } while (rest.length > 0);
  }
}

/** A fragment's target node in the base and, for target-path, the path as written (libfdt overlay_get_target). */
function fragmentTarget(fdt: InPlaceFdt, frag: OvNode, ov: string): { node: number; path?: string } {
  const tp = ovProp(frag, 'target');
  let ph = 0;
  if (tp) {
    if (tp.value.length !== 4 || u32(tp.value) === 0xffffffff) throw fail('BADPHANDLE', tp.at, ov, `fragment "${frag.name}" has a malformed target`);
    ph = u32(tp.value);
  }
  if (ph) return { node: at(tp!.at, ov, () => fdt.byPhandle(ph)) };
  const pp = ovProp(frag, 'target-path');
  if (!pp) throw fail('BADOVERLAY', frag.at, ov, `fragment "${frag.name}" has neither target nor target-path`);
  const path = cString(pp.value);
  return { node: at(pp.at, ov, () => fdt.path(path)), path };
}

/** Step 4: one __overlay__ node into its target (libfdt overlay_apply_node). */
function merge(fdt: InPlaceFdt, target: number, node: OvNode): void {
  for (const p of node.props) fdt.setProp(target, p.name, p.value);
  for (const c of node.children) {
    let sub: number;
    try {
      sub = fdt.addSubnode(target, c.name);
    } catch (e) {
      if (!(e instanceof LibfdtError && e.err === 'EXISTS')) throw e;
      sub = fdt.child(target, c.name)!;
    }
    merge(fdt, sub, c);
  }
}

const OVERLAY_DIR = '/__overlay__/';

/** Step 5: the overlay's labels join the base's __symbols__ (libfdt overlay_symbol_update). */
function updateSymbols(fdt: InPlaceFdt, root: OvNode, ov: string): void {
  const ovSymbols = root.children.find((c) => nameMatches(c.name, '__symbols__'));
  if (!ovSymbols) return;
  let symbols = fdt.child(fdt.root, '__symbols__');
  symbols ??= at(ovSymbols.at, ov, () => fdt.addSubnode(fdt.root, '__symbols__'));
  for (const s of ovSymbols.props) {
    const v = s.value;
    if (v.length < 1 || v.indexOf(0) !== v.length - 1) throw fail('BADVALUE', s.at, ov, `__symbols__ entry "${s.name}" is not one string`);
    const path = bytesToLatin1(v.subarray(0, v.length - 1));
    if (!path.startsWith('/')) throw fail('BADVALUE', s.at, ov, `__symbols__ entry "${s.name}" is not an absolute path`);
    const slash = path.indexOf('/', 1);
    if (slash < 0) continue; // not inside a fragment: it does not reach the base
    const tail = path.slice(slash);
    let rel: string;
    if (tail.length > OVERLAY_DIR.length - 1 && tail.startsWith(OVERLAY_DIR)) rel = tail.slice(OVERLAY_DIR.length);
    else if (tail === OVERLAY_DIR.slice(0, -1)) rel = '';
    else continue;
    const frag = root.children.find((c) => nameMatches(c.name, path.slice(1, slash)));
    if (!frag || !frag.children.some((c) => nameMatches(c.name, '__overlay__')))
      throw fail('BADOVERLAY', s.at, ov, `__symbols__ entry "${s.name}" points into fragment "${path.slice(1, slash)}", which has no __overlay__`);
    const target = at(s.at, ov, () => fragmentTarget(fdt, frag, ov));
    const base = target.path ?? at(s.at, ov, () => fdt.pathOf(target.node));
    if (base.length === 0) throw fail('BADVALUE', s.at, ov, `fragment "${frag.name}" targets an empty path`);
    // libfdt sizes the value from the target's path, then writes "<path>/<rel>" ("/" + rel for the root)
    const text = `${base.length > 1 ? base : ''}/${rel}\0`;
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    at(s.at, ov, () => fdt.setProp(symbols, s.name, bytes));
  }
}
