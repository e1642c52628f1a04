/**
 * The parts of dtc's checks.c and livetree.c that change bytes, in dtc's order: name_properties,
 * explicit_phandles, phandle_references (phandle allocation: pre-order, properties before children,
 * references left to right, smallest unused value from a counter that never goes back),
 * path_references, omit_unused_nodes; then -A aliases, -@ __symbols__, plugin __fixups__ and
 * __local_fixups__. Also dtc's errors for duplicate names and dangling references.
 */
import { DtsError } from './errors.js';
import { Data, Node, Property, addChild, deleteNode, getNodeByRef, type Marker } from './tree.js';
import type { DtInfo } from './parser.js';

export interface CheckOptions {
  /** -H: which phandle properties to add. */
  readonly phandleFormat?: 'epapr' | 'legacy' | 'both';
  /** -@ */
  readonly symbols?: boolean;
  /** -A */
  readonly autoAliases?: boolean;
  /** -f: write output even with errors. */
  readonly force?: boolean;
  readonly onWarning?: (message: string) => void;
}

const u32At = (d: Data, at: number): number =>
  ((d.val[at]! << 24) | (d.val[at + 1]! << 16) | (d.val[at + 2]! << 8) | d.val[at + 3]!) >>> 0;

class Checker {
  #next = 1;
  readonly #byPhandle = new Map<number, Node>();
  readonly errors: string[] = [];
  constructor(readonly dti: DtInfo, readonly opts: CheckOptions) {}

  #walk(n: Node, fn: (n: Node) => void): void {
    fn(n);
    for (const c of n.children) if (!c.deleted) this.#walk(c, fn);
  }
  #fail(check: string, n: Node, msg: string): void {
    this.errors.push(`ERROR (${check}): ${n.fullpath}: ${msg}`);
  }

  #phandleUsed(ph: number): boolean {
    const n = this.#byPhandle.get(ph);
    return n !== undefined && !n.deleted;
  }

  /** livetree.c get_node_phandle. */
  nodePhandle(n: Node): number {
    if (n.phandle !== 0 && n.phandle !== 0xffffffff) return n.phandle;
    while (this.#phandleUsed(this.#next)) this.#next++;
    const ph = this.#next;
    n.phandle = ph;
    this.#byPhandle.set(ph, n);
    const fmt = this.opts.phandleFormat ?? 'epapr';
    const mk = () => new Data().appendU32(ph);
    if (!n.getProp('linux,phandle') && fmt !== 'epapr') n.props.push(new Property('linux,phandle', mk()));
    if (!n.getProp('phandle') && fmt !== 'legacy') n.props.push(new Property('phandle', mk()));
    return ph;
  }

  run(): void {
    const root = this.dti.root;
    const structural: string[] = [];
    this.#walk(root, (n) => {
      const names = new Set<string>();
      for (const c of n.children) {
        if (c.deleted) continue;
        if (names.has(c.name)) structural.push(`ERROR (duplicate_node_names): ${c.fullpath}: Duplicate node name`);
        names.add(c.name);
      }
      const pnames = new Set<string>();
      for (const p of n.props) {
        if (p.deleted) continue;
        if (pnames.has(p.name)) structural.push(`ERROR (duplicate_property_names): ${n.fullpath}:${p.name}: Duplicate property name`);
        pnames.add(p.name);
      }
    });
    this.errors.push(...structural);
    // name_properties: a correct "name" property is redundant and removed
    this.#walk(root, (n) => {
      const i = n.props.findIndex((p) => p.name === 'name');
      if (i < 0) return;
      const p = n.props[i]!;
      const base = n.basename;
      const ok = p.val.len === base.length + 1 && p.val.val.slice(0, base.length).every((b, k) => b === base.charCodeAt(k));
      if (ok) n.props.splice(i, 1);
      else this.#fail('name_properties', n, `"name" property is incorrect ("${String.fromCharCode(...p.val.val).split('\0')[0]}" instead of base node name)`);
    });
    // explicit_phandles
    let explicitOk = true;
    this.#walk(root, (n) => {
      const ph = this.#checkPhandleProp(n, 'phandle');
      const lph = this.#checkPhandleProp(n, 'linux,phandle');
      if (ph === undefined || lph === undefined) {
        explicitOk = false;
        return;
      }
      if (!ph && !lph) return;
      if (ph && lph && ph !== lph) {
        this.#fail('explicit_phandles', n, "mismatching 'phandle' and 'linux,phandle' properties");
        explicitOk = false;
      }
      const v = ph || lph;
      const other = this.#byPhandle.get(v);
      if (other && other !== n && !other.deleted) {
        this.#fail('explicit_phandles', n, `duplicated phandle 0x${v.toString(16)} (seen before at ${other.fullpath})`);
        explicitOk = false;
        return;
      }
      n.phandle = v;
      this.#byPhandle.set(v, n);
    });
    if (!explicitOk || structural.length) return;
    // phandle_references
    this.#walk(root, (n) => {
      for (let pi = 0; pi < n.props.length; pi++) {
        const p = n.props[pi]!;
        if (p.deleted) continue;
        for (const m of p.val.markers) {
          if (m.type !== 'REF_PHANDLE') continue;
          const ref = getNodeByRef(root, m.ref);
          if (!ref) {
            if (!this.dti.plugin) this.#fail('phandle_references', n, `Reference to non-existent node or label "${m.ref}"\n`);
            else p.val.setU32(m.offset, 0xffffffff);
            continue;
          }
          p.val.setU32(m.offset, this.nodePhandle(ref));
          ref.isReferenced = true;
        }
      }
    });
    // path_references
    this.#walk(root, (n) => {
      for (const p of n.props) {
        if (p.deleted) continue;
        const ms = p.val.markers;
        for (let i = 0; i < ms.length; i++) {
          const m = ms[i]!;
          if (m.type !== 'REF_PATH') continue;
          const ref = getNodeByRef(root, m.ref);
          if (!ref) {
            this.#fail('path_references', n, `Reference to non-existent node or label "${m.ref}"\n`);
            continue;
          }
          const path = ref.fullpath + '\0';
          p.val.insertAt(i, Array.from(path, (c) => c.charCodeAt(0) & 0xff));
          ref.isReferenced = true;
        }
      }
    });
    if (this.errors.length) return;
    // omit_unused_nodes
    this.#walk(root, (n) => {
      if (this.opts.symbols && n.labels.length) return;
      if (n.omitIfUnused && !n.isReferenced) deleteNode(n);
    });
  }

  /** check_phandle_prop: 0 = none (or a self-reference, filled in later), undefined = error. */
  #checkPhandleProp(n: Node, name: string): number | undefined {
    const p = n.getProp(name);
    if (!p) return 0;
    if (p.val.len !== 4) {
      this.#fail('explicit_phandles', n, `bad length (${p.val.len}) ${name} property`);
      return undefined;
    }
    const ref = p.val.markers.find((m) => m.type === 'REF_PHANDLE');
    if (ref) {
      if (n !== getNodeByRef(this.dti.root, ref.ref)) {
        this.#fail('explicit_phandles', n, `${name} is a reference to another node`);
        return undefined;
      }
      return 0;
    }
    const v = u32At(p.val, 0);
    if (v === 0 || v === 0xffffffff) {
      this.#fail('explicit_phandles', n, `bad value (0x${v.toString(16)}) in ${name} property`);
      return undefined;
    }
    return v;
  }

  /** generate_label_tree */
  labelTree(name: string, allocph: boolean): void {
    const root = this.dti.root;
    const any = (n: Node): boolean => n.labels.length > 0 || n.children.some((c) => !c.deleted && any(c));
    if (!any(root)) return;
    const an = buildRootNode(root, name);
    const walk = (n: Node): void => {
      if (n.labels.length) {
        for (const l of n.labels) {
          if (l.deleted) continue;
          if (an.getProp(l.label)) {
            this.opts.onWarning?.(`WARNING: label ${l.label} already exists in /${an.name}`);
            continue;
          }
          an.props.push(new Property(l.label, Data.fromLatin1(n.fullpath + '\0')));
        }
        if (allocph) this.nodePhandle(n);
      }
      for (const c of n.children) if (!c.deleted) walk(c);
    };
    walk(root);
  }

  fixups(): void {
    const root = this.dti.root;
    const refs: { n: Node; p: Property; m: Marker; target: Node | undefined }[] = [];
    const walk = (n: Node): void => {
      for (const p of n.props) {
        if (p.deleted) continue;
        for (const m of p.val.markers) if (m.type === 'REF_PHANDLE') refs.push({ n, p, m, target: getNodeByRef(root, m.ref) });
      }
      for (const c of n.children) if (!c.deleted) walk(c);
    };
    walk(root);
    if (refs.some((r) => !r.target)) {
      const fn = buildRootNode(root, '__fixups__');
      for (const r of refs) {
        if (r.target) continue;
        if (r.n.fullpath.includes(':') || r.p.name.includes(':')) throw new DtsError("arguments should not contain ':'");
        appendToProperty(fn, r.m.ref, Data.fromLatin1(`${r.n.fullpath}:${r.p.name}:${r.m.offset}\0`));
      }
    }
    // __local_fixups__ is decided after __fixups__ exists (dtc walks the tree again)
    const refs2: typeof refs = [];
    refs.length = 0;
    walk(root);
    for (const r of refs) if (r.target) refs2.push(r);
    if (refs2.length) {
      const lfn = buildRootNode(root, '__local_fixups__');
      for (const r of refs2) {
        const chain: Node[] = [];
        for (let w: Node | undefined = r.n; w; w = w.parent) chain.unshift(w);
        let wn = lfn;
        for (let i = 1; i < chain.length; i++) {
          let nwn = wn.getSubnode(chain[i]!.name);
          if (!nwn) {
            nwn = new Node();
            nwn.name = chain[i]!.name;
            addChild(wn, nwn);
          }
          wn = nwn;
        }
        appendToProperty(wn, r.p.name, new Data().appendU32(r.m.offset));
      }
    }
  }
}

function buildRootNode(root: Node, name: string): Node {
  let an = root.getSubnode(name);
  if (!an) {
    an = new Node();
    an.name = name;
    addChild(root, an);
  }
  return an;
}

function appendToProperty(n: Node, name: string, d: Data): void {
  const p = n.getProp(name);
  if (p) p.val.merge(d);
  else n.props.push(new Property(name, new Data().merge(d)));
}

/** Runs dtc's tree processing after parsing. Throws DtsError with dtc's messages when dtc would abort. */
export function processTree(dti: DtInfo, opts: CheckOptions = {}): void {
  const c = new Checker(dti, opts);
  c.run();
  if (c.errors.length) {
    if (!opts.force) throw new DtsError(`${c.errors.join('\n')}\nERROR: Input tree has errors, aborting (use -f to force output)`);
    opts.onWarning?.('Warning: Input tree has errors, output forced');
  }
  if (opts.autoAliases) c.labelTree('aliases', false);
  if (opts.symbols) c.labelTree('__symbols__', true);
  if (dti.plugin) c.fixups();
}
