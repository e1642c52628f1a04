/**
 * The parts of dtc's checks.c and livetree.c that change bytes, in dtc's order: name_properties,
 * explicit_phandles, phandle_references (phandle allocation: pre-order, properties before children,
 * references left to right, smallest unused value from a counter that never goes back),
 * path_references, omit_unused_nodes; then -A aliases, -@ __symbols__, plugin __fixups__ and
 * __local_fixups__. Also dtc's errors for duplicate names and dangling references.
 */
import { DtsError, srcposString } from './errors.js';
import { Data, Node, Property, addChild, deleteNode, getNodeByPath, type Marker, type MarkerType } from './tree.js';
import type { DtInfo } from './parser.js';
import { bytesToLatin1 } from '../model.js';

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
  /** -q count: 1 hides warnings, 2 errors too (in DtsError.stderr), 3 the forced-output warning. */
  readonly quiet?: number;
  /**
   * dtc's name-character error checks (node_name_chars, node_name_format, property_name_chars). The CLI turns
   * them on, as dtc; off by default so the library compiles any tree the model can hold (names fdtput can make).
   */
  readonly nameChecks?: boolean;
  /** -o name, for check messages about nodes without a source position ("-": `<stdout>`). */
  readonly outName?: string;
}

/** A node's path in messages; a deleted node has none, which glibc's printf shows as "(null)". */
const pathOf = (n: Node): string => n.fullpath || '(null)';

/** data.c data_is_one_string. */
function isOneString(d: Data): boolean {
  const v = d.val;
  if (!v.length || v[v.length - 1] !== 0) return false;
  for (let i = 0; i < v.length - 1; i++) if (v[i] === 0) return false;
  return true;
}

/**
 * Messages kept from one run, and their text in all. dtc prints every one; a hostile tree (20000
 * nodes of one name, or a node defined 6000 times and named in each message with all its "also
 * defined at" lines) would make hundreds of millions of lines, so past either bound the rest are
 * left out, and the checks that find many stop early.
 */
export const MAX_MESSAGES = 10_000;
export const MAX_MESSAGE_TEXT = 4 * 1024 * 1024;

/** Where a label first appears in pre-order (live nodes): on a node, a property, or inside a value. */
interface LabelHolder {
  n: Node;
  p?: Property;
  m?: Marker;
}
type LabelHolders = Record<'node' | 'prop' | 'value', Map<string, LabelHolder>>;

const u32At = (d: Data, at: number): number =>
  ((d.val[at]! << 24) | (d.val[at + 1]! << 16) | (d.val[at + 2]! << 8) | d.val[at + 3]!) >>> 0;

class Checker {
  #next = 1;
  readonly #byPhandle = new Map<number, Node>();
  /** What dtc prints for the checks, in order. */
  readonly output: string[] = [];
  /** Messages found, shown or not (quiet); past the bounds the checks that find many may stop early. */
  #found = 0;
  #text = 0;
  /** Whether messages that would be shown were left out. */
  dropped = false;
  /** Whether enough messages were found that the rest may be skipped (failed is set by then). */
  get saturated(): boolean {
    return this.#found >= MAX_MESSAGES || this.#text >= MAX_MESSAGE_TEXT;
  }
  failed = false;
  /** Label → first node holding it (get_node_by_label), built when first needed; labels do not change while it is used. */
  #nodeLabels: Map<string, Node> | undefined;
  constructor(readonly dti: DtInfo, readonly opts: CheckOptions) {}

  #walk(n: Node, fn: (n: Node) => void): void {
    fn(n);
    for (const c of n.children) if (!c.deleted) this.#walk(c, fn);
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
    const mk = () => new Data().mark('TYPE_UINT32', '').appendU32(ph);
    if (!n.getProp('linux,phandle') && fmt !== 'epapr') n.props.push(new Property('linux,phandle', mk()));
    if (!n.getProp('phandle') && fmt !== 'legacy') n.props.push(new Property('phandle', mk()));
    return ph;
  }

  /** get_node_by_ref, with labels looked up in an index instead of a walk per reference. */
  #byRef(ref: string): Node | undefined {
    const root = this.dti.root;
    if (ref === '/') return root;
    if (ref.startsWith('/')) return getNodeByPath(root, ref);
    if (!this.#nodeLabels) {
      const index = new Map<string, Node>();
      this.#walk(root, (n) => {
        for (const l of n.labels) if (!l.deleted && !index.has(l.label)) index.set(l.label, n);
      });
      this.#nodeLabels = index;
    }
    return this.#nodeLabels.get(ref);
  }

  /** check_msg: `POS: ERROR (check): /path[:prop]: message`, plus dtc's "also defined at" lines for merged nodes. */
  #msg(check: string, level: 'ERROR' | 'Warning', n: Node, p: Property | undefined, text: string): void {
    const quiet = level === 'Warning' ? (this.opts.quiet ?? 0) >= 1 : (this.opts.quiet ?? 0) >= 2;
    if (this.saturated) {
      if (!quiet) this.dropped = true;
      return;
    }
    this.#found++;
    if (quiet) return;
    const pos = p?.pos ?? n.pos;
    const out = this.opts.outName ?? '-';
    let str = `${pos ? srcposString(pos) : out === '-' ? '<stdout>' : out}: ${level} (${check}): ${p ? `${pathOf(n)}:${p.name}` : pathOf(n)}: ${text}\n`;
    if (!p && pos)
      for (const more of n.morePos) {
        if (this.#text + str.length >= MAX_MESSAGE_TEXT) {
          // the rest of this message's lines, and all later messages, are left out
          this.dropped = true;
          break;
        }
        str += `  also defined at ${srcposString(more)}\n`;
      }
    if (this.#text + str.length > MAX_MESSAGE_TEXT) {
      this.dropped = true;
      this.#text = MAX_MESSAGE_TEXT;
      return;
    }
    this.#text = this.dropped ? MAX_MESSAGE_TEXT : this.#text + str.length;
    this.output.push(str);
  }
  #fail(check: string, n: Node, msg: string, p?: Property): void {
    this.failed = true;
    this.#msg(check, 'ERROR', n, p, msg);
  }

  /** process_checks: dtc's checks in its table order; the first failing error check stops the rest. */
  run(): void {
    const root = this.dti.root;
    const each = (fn: (n: Node) => void): boolean => {
      this.#walk(root, fn);
      return this.failed;
    };
    // duplicate_node_names: a live child against every later sibling (deleted ones too, as dtc)
    if (each((n) => {
      for (const [i, later] of laterNamesakes(n.children)) {
        if (n.children[i]!.deleted) continue;
        for (const j of later) this.#fail('duplicate_node_names', n.children[j]!, 'Duplicate node name');
        if (this.saturated) return;
      }
    })) return;
    // duplicate_property_names
    if (each((n) => {
      for (const [i, later] of laterNamesakes(n.props)) {
        const p = n.props[i]!;
        if (p.deleted) continue;
        for (const j of later) if (!n.props[j]!.deleted) this.#fail('duplicate_property_names', n, 'Duplicate property name', p);
        if (this.saturated) return;
      }
    })) return;
    // node_name_chars, node_name_format
    const names = this.opts.nameChecks ?? false;
    if (names && each((n) => {
      const bad = /[^a-zA-Z0-9,._+\-@]/.exec(n.name);
      if (bad) this.#fail('node_name_chars', n, `Bad character '${bad[0]}' in node name`);
    })) return;
    if (names && each((n) => {
      const at = n.name.indexOf('@');
      if (at >= 0 && n.name.indexOf('@', at + 1) >= 0) this.#fail('node_name_format', n, "multiple '@' characters in node name");
    })) return;
    // property_name_chars
    if (names && each((n) => {
      for (const p of n.liveProps()) {
        const bad = /[^a-zA-Z0-9,._+*#?\-]/.exec(p.name);
        if (bad) this.#fail('property_name_chars', n, `Bad character '${bad[0]}' in property name`, p);
      }
    })) return;
    // name_is_string, name_properties: a correct "name" property is redundant and removed
    if (each((n) => {
      const p = n.getProp('name');
      if (p && !isOneString(p.val)) this.#fail('name_is_string', n, 'property is not a string', p);
    })) return;
    if (each((n) => {
      const i = n.props.findIndex((p) => p.name === 'name');
      if (i < 0) return;
      const p = n.props[i]!;
      const base = n.basename;
      const ok = p.val.len === base.length + 1 && p.val.val.slice(0, base.length).every((b, k) => b === base.charCodeAt(k));
      if (ok) n.props.splice(i, 1);
      else {
        const z = p.val.val.indexOf(0);
        this.#fail('name_properties', n, `"name" property is incorrect ("${bytesToLatin1(Uint8Array.from(p.val.val.slice(0, z < 0 ? undefined : z)))}" instead of base node name)`);
      }
    })) return;
    // node_name_vs_property_name (a warning)
    const propNames = new Map<Node, Set<string>>();
    this.#walk(root, (n) => {
      const parent = n.parent;
      if (!parent) return;
      let names = propNames.get(parent);
      if (!names) propNames.set(parent, (names = new Set(parent.liveProps().map((p) => p.name))));
      if (names.has(n.name)) this.#msg('node_name_vs_property_name', 'Warning', n, undefined, 'node name and property name conflict');
    });
    // duplicate_label
    const first = this.#labelHolders();
    if (each((n) => {
      for (const l of n.labels) if (!l.deleted) this.#duplicateLabel(first, l.label, n, undefined, undefined);
      for (const p of n.liveProps()) {
        for (const l of p.labels) if (!l.deleted) this.#duplicateLabel(first, l.label, n, p, undefined);
        for (const m of p.val.markers) if (m.type === 'LABEL') this.#duplicateLabel(first, m.ref, n, p, m);
      }
    })) return;
    // explicit_phandles
    if (each((n) => {
      let ph = this.#checkPhandleProp(n, 'phandle');
      const lph = this.#checkPhandleProp(n, 'linux,phandle');
      if (!ph && !lph) return;
      if (ph && lph && ph !== lph) this.#fail('explicit_phandles', n, "mismatching 'phandle' and 'linux,phandle' properties");
      if (lph && !ph) ph = lph;
      const other = this.#byPhandle.get(ph);
      if (other && other !== n && !other.deleted) {
        this.#fail('explicit_phandles', n, `duplicated phandle 0x${ph.toString(16)} (seen before at ${other.fullpath})`);
        return;
      }
      n.phandle = ph;
      if (!other || other.deleted) this.#byPhandle.set(ph, n);
    })) return;
    // phandle_references
    if (each((n) => {
      for (const p of n.liveProps()) {
        for (const m of p.val.markers) {
          if (m.type !== 'REF_PHANDLE') continue;
          const ref = this.#byRef(m.ref);
          if (!ref) {
            if (!this.dti.plugin) this.#fail('phandle_references', n, `Reference to non-existent node or label "${m.ref}"\n`);
            else p.val.setU32(m.offset, 0xffffffff);
            continue;
          }
          p.val.setU32(m.offset, this.nodePhandle(ref));
          ref.isReferenced = true;
        }
      }
    })) return;
    // path_references
    if (each((n) => {
      for (const p of n.liveProps()) {
        const ms = p.val.markers;
        for (let i = 0; i < ms.length; i++) {
          const m = ms[i]!;
          if (m.type !== 'REF_PATH') continue;
          const ref = this.#byRef(m.ref);
          if (!ref) {
            this.#fail('path_references', n, `Reference to non-existent node or label "${m.ref}"\n`);
            continue;
          }
          const path = ref.fullpath + '\0';
          p.val.insertAt(i, Array.from(path, (c) => c.charCodeAt(0) & 0xff));
          ref.isReferenced = true;
        }
      }
    })) return;
    // omit_unused_nodes
    this.#walk(root, (n) => {
      if (this.opts.symbols && n.labels.length) return;
      if (n.omitIfUnused && !n.isReferenced) deleteNode(n);
    });
    this.#nodeLabels = undefined;
  }

  /** For check_duplicate_label: each label's first holder, by node labels, then property labels, then value labels. */
  #labelHolders(): LabelHolders {
    const node = new Map<string, LabelHolder>(), prop = new Map<string, LabelHolder>(), value = new Map<string, LabelHolder>();
    const first = (map: Map<string, LabelHolder>, label: string, h: LabelHolder): void => {
      if (!map.has(label)) map.set(label, h);
    };
    this.#walk(this.dti.root, (n) => {
      for (const l of n.labels) if (!l.deleted) first(node, l.label, { n });
      for (const p of n.liveProps()) {
        for (const l of p.labels) if (!l.deleted) first(prop, l.label, { n, p });
        for (const m of p.val.markers) if (m.type === 'LABEL') first(value, m.ref, { n, p, m });
      }
    });
    return { node, prop, value };
  }

  /** check_duplicate_label: the first holder of `label` (node, then property, then value label) must be this one. */
  #duplicateLabel(first: LabelHolders, label: string, node: Node, prop: Property | undefined, mark: Marker | undefined): void {
    const other = first.node.get(label) ?? first.prop.get(label) ?? first.value.get(label);
    if (!other) return;
    if (other.n !== node || other.p !== prop || other.m !== mark) {
      const desc = (n: Node, p?: Property, m?: Marker): string => `${m ? 'value of ' : ''}${p ? `'${p.name}' in ` : ''}${n.fullpath}`;
      this.#fail('duplicate_label', node, `Duplicate label '${label}' on ${desc(node, prop, mark)} and ${desc(other.n, other.p, other.m)}`);
    }
  }

  /** check_phandle_prop: 0 = none, a bad one (reported), or a self-reference (filled in later). */
  #checkPhandleProp(n: Node, name: string): number {
    const p = n.getProp(name);
    if (!p) return 0;
    if (p.val.len !== 4) {
      this.#fail('explicit_phandles', n, `bad length (${p.val.len}) ${name} property`, p);
      return 0;
    }
    const ref = p.val.markers.find((m) => m.type === 'REF_PHANDLE');
    if (ref) {
      if (n !== this.#byRef(ref.ref)) this.#fail('explicit_phandles', n, `${name} is a reference to another node`);
      return 0;
    }
    const v = u32At(p.val, 0);
    if (v === 0 || v === 0xffffffff) {
      this.#fail('explicit_phandles', n, `bad value (0x${v.toString(16)}) in ${name} property`, p);
      return 0;
    }
    return v;
  }

  /** generate_label_tree */
  labelTree(name: string, allocph: boolean): void {
    const root = this.dti.root;
    const any = (n: Node): boolean => n.labels.length > 0 || n.children.some((c) => !c.deleted && any(c));
    if (!any(root)) return;
    const an = buildRootNode(root, name);
    const have = new Set(an.liveProps().map((p) => p.name));
    const walk = (n: Node): void => {
      if (n.labels.length) {
        for (const l of n.labels) {
          if (l.deleted) continue;
          if (have.has(l.label)) {
            this.opts.onWarning?.(`WARNING: label ${l.label} already exists in /${an.name}`);
            continue;
          }
          an.props.push(new Property(l.label, new Data().mark('TYPE_STRING', '').appendLatin1(n.fullpath + '\0')));
          have.add(l.label);
        }
        if (allocph) {
          const before = n.props.length;
          this.nodePhandle(n);
          // the label node itself may carry labels: what this adds to it is there for later labels
          if (n === an) for (const p of n.props.slice(before)) have.add(p.name);
        }
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
        for (const m of p.val.markers) if (m.type === 'REF_PHANDLE') refs.push({ n, p, m, target: this.#byRef(m.ref) });
      }
      for (const c of n.children) if (!c.deleted) walk(c);
    };
    walk(root);
    if (refs.some((r) => !r.target)) {
      const fn = buildRootNode(root, '__fixups__');
      for (const r of refs) {
        if (r.target) continue;
        if (r.n.fullpath.includes(':') || r.p.name.includes(':')) throw new DtsError("arguments should not contain ':'");
        appendToProperty(fn, r.m.ref, 'TYPE_STRING', Data.fromLatin1(`${r.n.fullpath}:${r.p.name}:${r.m.offset}\0`));
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
        appendToProperty(wn, r.p.name, 'TYPE_UINT32', new Data().appendU32(r.m.offset));
      }
    }
  }
}

/** For each item that has later items of the same name: its index, and those later indexes. */
function* laterNamesakes(items: readonly { name: string }[]): Generator<[number, Iterable<number>]> {
  const groups = new Map<string, number[]>();
  items.forEach((it, i) => {
    const g = groups.get(it.name);
    if (g) g.push(i);
    else groups.set(it.name, [i]);
  });
  const seen = new Map<string, number>();
  for (let i = 0; i < items.length; i++) {
    const name = items[i]!.name;
    const g = groups.get(name)!;
    const k = seen.get(name) ?? 0;
    seen.set(name, k + 1);
    if (k < g.length - 1) yield [i, (function* () { for (let j = k + 1; j < g.length; j++) yield g[j]!; })()];
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

/** livetree.c append_to_property: the value goes on with a `type` marker before it. */
function appendToProperty(n: Node, name: string, type: MarkerType, d: Data): void {
  const p = n.getProp(name);
  if (p) p.val.mark(type, name).merge(d);
  else n.props.push(new Property(name, new Data().mark(type, name).merge(d)));
}

/** Runs dtc's tree processing after parsing. Throws DtsError with dtc's messages when dtc would abort. */
export function processTree(dti: DtInfo, opts: CheckOptions = {}): void {
  const c = new Checker(dti, opts);
  c.run();
  if (c.dropped) c.output.push(`(more than ${MAX_MESSAGES} messages or ${MAX_MESSAGE_TEXT} characters: the rest are not shown)\n`);
  if (c.failed && !opts.force) {
    const text = `${c.output.join('')}ERROR: Input tree has errors, aborting (use -f to force output)\n`;
    const first = c.output.find((l) => l.includes(': ERROR (')) ?? text;
    throw new DtsError(first.replace(/\n[^]*$/, ''), undefined, text, 2);
  }
  for (const line of c.output) opts.onWarning?.(line.replace(/\n$/, ''));
  if (c.failed && (opts.quiet ?? 0) < 3) opts.onWarning?.('Warning: Input tree has errors, output forced');
  if (opts.autoAliases) c.labelTree('aliases', false);
  if (opts.symbols) c.labelTree('__symbols__', true);
  if (dti.plugin) c.fixups();
}
