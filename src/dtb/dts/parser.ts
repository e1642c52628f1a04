/**
 * DTS parser: dtc 1.6.1 dtc-parser.y as recursive descent, with the same tree-building actions
 * (build_node, merge_nodes, add_orphan_node …) in the same order.
 */
import { DtsError, spanPos, type SrcPos } from './errors.js';
import { Lexer, type Tok } from './lexer.js';
import {
  Data, Node, Property, addChild, addLabel, buildNode, deleteNode, getNodeByLabel, getNodeByPath, hasLiveLabel, mergeNodes,
} from './tree.js';
import { bytesToLatin1 } from '../model.js';

export interface ReserveInfo {
  address: bigint;
  size: bigint;
  labels: string[];
}

export interface DtInfo {
  plugin: boolean;
  reserve: ReserveInfo[];
  root: Node;
  bootCpuidPhys: number;
}

/** Reads an /incbin/ file: `name` as written, relative to the file that names it, then the search path. */
export type IncbinReader = (name: string, fromFile: string) => Uint8Array;

const M64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => v & M64;

/**
 * Nesting the parser follows, each way: nodes (the device-tree readers' default depth, far above
 * the kernel's 64) and expression levels (parentheses, unary operators, ?:). dtc's parser stack
 * stops near 10000 levels; here each level is several JavaScript frames, so the bound is lower.
 */
export const MAX_NESTING = 256;

export class Parser {
  plugin = false;
  #orphans = 0;
  #nodeDepth = 0;
  #exprDepth = 0;
  constructor(readonly lx: Lexer, readonly incbin: IncbinReader) {}

  /** dtc-parser.y ERROR(): printed, parsing goes on, dtc gives up after the parse. */
  #err(msg: string, pos: SrcPos): void {
    this.lx.diag.error('Error', pos, msg);
  }
  /** An error that ends the parse (yyparse fails): "Unable to parse input tree". */
  #abort(msg: string, pos: SrcPos): never {
    const d = this.lx.diag;
    d.error('Error', pos, msg);
    throw new DtsError(msg, pos, `${d.text()}FATAL ERROR: Unable to parse input tree\n`, 1);
  }
  #syntax(t: Tok): never {
    this.#abort('syntax error', t.pos);
  }
  /** The range of the last token consumed. */
  #lastEnd!: SrcPos;
  #expectChar(c: string): Tok {
    const t = this.lx.next();
    if (t.kind !== 'CHAR' || t.text !== c) this.#syntax(t);
    this.#lastEnd = t.pos;
    return t;
  }
  #isChar(t: Tok, c: string): boolean {
    return t.kind === 'CHAR' && t.text === c;
  }

  parse(): DtInfo {
    // headers
    const headers: { f: number; start: SrcPos; end: SrcPos }[] = [];
    for (;;) {
      const t = this.lx.peek();
      if (t.kind !== 'V1') break;
      this.lx.next();
      let end = this.#expectChar(';').pos;
      let f = 1;
      if (this.lx.peek().kind === 'PLUGIN') {
        this.lx.next();
        end = this.#expectChar(';').pos;
        f = 3;
      }
      headers.push({ f, start: t.pos, end });
    }
    if (!headers.length) this.#syntax(this.lx.peek());
    // headers: header headers — right recursive, so reduced from the last; each compares with the rest's first
    for (let i = headers.length - 2; i >= 0; i--)
      if (headers[i + 1]!.f !== headers[i]!.f) this.#err("Header flags don't match earlier ones", spanPos(headers[i + 1]!.start, headers[headers.length - 1]!.end));
    const flags = headers[0]!.f;
    this.plugin = flags === 3;
    // memreserves
    const reserve: ReserveInfo[] = [];
    for (;;) {
      let k = 0;
      while (this.lx.peek(k).kind === 'LABEL') k++;
      if (this.lx.peek(k).kind !== 'MEMRESERVE') break;
      const labels: string[] = [];
      // in source order: the grammar adds the innermost label first, each to the front
      for (let i = 0; i < k; i++) labels.push(this.lx.next().text);
      this.lx.next();
      const address = this.#prim().v;
      const size = this.#prim().v;
      this.#expectChar(';');
      reserve.push({ address, size, labels });
    }
    // devicetree
    let root: Node;
    const first = this.lx.next();
    if (this.#isChar(first, '/')) {
      root = this.#nodedef();
      root.name = '';
    } else if (first.kind === 'LABEL_REF' || first.kind === 'PATH_REF') {
      const nd = this.#nodedef();
      if (!this.plugin) this.#err(`Label or path ${first.text} not found`, nd.pos!);
      root = buildNode([], []);
      root.name = '';
      this.#addOrphan(root, nd, first.text);
    } else this.#syntax(first);
    for (;;) {
      const t = this.lx.next();
      if (t.kind === 'EOF') break;
      if (this.#isChar(t, '/')) this.#merge(root, this.#nodedef());
      else if (t.kind === 'LABEL') {
        const ref = this.lx.next();
        if (ref.kind !== 'LABEL_REF' && ref.kind !== 'PATH_REF') this.#syntax(ref);
        const nd = this.#nodedef();
        const target = this.#byRef(root, ref.text);
        if (!target) this.#err(`Label or path ${ref.text} not found`, ref.pos);
        else {
          addLabel(target.labels, t.text);
          this.#holds(target, t.text);
          this.#merge(target, nd);
        }
      } else if (t.kind === 'PATH_REF') {
        const nd = this.#nodedef();
        if (this.plugin) this.#addOrphan(root, nd, t.text);
        else {
          const target = this.#byRef(root, t.text);
          if (!target) this.#err(`Label or path ${t.text} not found`, t.pos);
          else this.#merge(target, nd);
        }
      } else if (t.kind === 'LABEL_REF') {
        const nd = this.#nodedef();
        const target = this.#byRef(root, t.text);
        if (target) this.#merge(target, nd);
        else if (this.plugin) this.#addOrphan(root, nd, t.text);
        else this.#err(`Label or path ${t.text} not found`, t.pos);
      } else if (t.kind === 'DEL_NODE' || t.kind === 'OMIT_NO_REF') {
        const ref = this.lx.next();
        if (ref.kind !== 'LABEL_REF' && ref.kind !== 'PATH_REF') this.#syntax(ref);
        this.#expectChar(';');
        const target = this.#byRef(root, ref.text);
        if (!target) this.#err(`Label or path ${ref.text} not found`, ref.pos);
        else if (t.kind === 'DEL_NODE') deleteNode(target);
        else target.omitIfUnused = true;
      } else this.#syntax(t);
    }
    const d = this.lx.diag;
    if (d.failed) throw new DtsError(d.lines[0]!.replace(/\n$/, ''), undefined, `${d.text()}FATAL ERROR: Syntax error parsing input tree\n`, 1);
    return { plugin: this.plugin, reserve, root, bootCpuidPhys: guessBootCpuid(root) };
  }

  /** merge_nodes, after checking that the tree stays within MAX_NESTING (each definition is, but merges stack them). */
  #merge(target: Node, nd: Node): void {
    let depth = 0;
    for (let n: Node | undefined = target; n; n = n.parent) depth++;
    if (depth + heightOf(nd) - 1 > MAX_NESTING) this.#abort(`nodes nested more than ${MAX_NESTING} deep`, nd.pos!);
    mergeNodes(target, nd, (n, label) => this.#holds(n, label));
  }

  /**
   * The nodes given each label since it was last looked up (a lookup drops those no longer holding it
   * in the tree: a node regains a label, or comes back into the tree, only through a merge, which
   * gives it the label again).
   */
  readonly #holders = new Map<string, Set<Node>>();
  #holds(n: Node, label: string): void {
    const h = this.#holders.get(label);
    if (!h) this.#holders.set(label, new Set([n]));
    else h.add(n);
  }

  /**
   * get_node_by_ref. A label is looked up among the nodes given it (every label reaches a node
   * through #holds), not by a walk of the tree: none still holding it in the tree means none found,
   * one is the node the walk would find, and for several (a duplicate label) the tree is walked as
   * dtc does, for the first in pre-order.
   */
  #byRef(root: Node, ref: string): Node | undefined {
    if (ref === '/') return root;
    if (ref.startsWith('/')) return getNodeByPath(root, ref);
    const holders = this.#holders.get(ref);
    if (!holders) return undefined;
    for (const n of holders) if (!hasLiveLabel(n.labels, ref) || !inTree(root, n)) holders.delete(n);
    if (holders.size > 1) return getNodeByLabel(root, ref);
    return holders.values().next().value;
  }

  #addOrphan(root: Node, nd: Node, ref: string): void {
    // root, fragment@N, __overlay__ (nd)
    if (heightOf(nd) + 2 > MAX_NESTING) this.#abort(`nodes nested more than ${MAX_NESTING} deep`, nd.pos!);
    let p: Property;
    if (ref.startsWith('/')) p = new Property('target-path', new Data().mark('TYPE_STRING', ref).appendLatin1(ref + '\0'));
    else p = new Property('target', new Data().mark('REF_PHANDLE', ref).appendU32(0xffffffff));
    nd.name = '__overlay__';
    const frag = buildNode([p], [nd]);
    frag.name = `fragment@${this.#orphans++}`;
    addChild(root, frag);
  }

  /** '{' proplist subnodes '}' ';' */
  #nodedef(): Node {
    const open = this.#expectChar('{');
    // the root is depth 1, as in the blob readers
    return this.#nest('nodes', open.pos, () => this.#nodeBody(open));
  }

  #nodeBody(open: Tok): Node {
    const props: Property[] = [];
    const children: Node[] = [];
    for (;;) {
      let k = 0;
      while (this.lx.peek(k).kind === 'LABEL') k++;
      const t = this.lx.peek(k);
      if (this.#isChar(t, '}')) {
        if (k) this.#syntax(t);
        break;
      }
      let isProp: boolean;
      if (t.kind === 'DEL_PROP') isProp = true;
      else if (t.kind === 'DEL_NODE' || t.kind === 'OMIT_NO_REF') isProp = false;
      else if (t.kind === 'PROPNODENAME') {
        const n = this.lx.peek(k + 1);
        isProp = this.#isChar(n, '=') || this.#isChar(n, ';');
      } else this.#syntax(t);
      if (isProp) {
        const start = this.lx.peek().pos;
        const p = this.#propdef();
        if (children.length) this.#abort('Properties must precede subnodes', spanPos(start, this.#lastEnd));
        props.push(p);
      } else children.push(this.#subnode());
    }
    this.lx.next();
    const end = this.#expectChar(';');
    return buildNode(props, children, spanPos(open.pos, end.pos));
  }

  #labels(): string[] {
    const out: string[] = [];
    while (this.lx.peek().kind === 'LABEL') out.push(this.lx.next().text);
    return out;
  }

  #propdef(): Property {
    const labels = this.#labels();
    const t = this.lx.next();
    let p: Property;
    if (t.kind === 'DEL_PROP') {
      const n = this.lx.next();
      if (n.kind !== 'PROPNODENAME') this.#syntax(n);
      this.#expectChar(';');
      p = new Property(n.text, new Data());
      p.deleted = true;
    } else {
      const nx = this.lx.next();
      if (this.#isChar(nx, ';')) {
        this.#lastEnd = nx.pos;
        p = new Property(t.text, new Data(), spanPos(t.pos, nx.pos));
      } else if (!this.#isChar(nx, '=')) this.#syntax(nx);
      else {
        const d = this.#propdata();
        const end = this.#expectChar(';');
        p = new Property(t.text, d, spanPos(t.pos, end.pos));
      }
    }
    for (let i = labels.length - 1; i >= 0; i--) addLabel(p.labels, labels[i]!);
    return p;
  }

  /** subnode: labels, then a node, a /delete-node/, or /omit-if-no-ref/ and a subnode (taken as a loop, not a recursion). */
  #subnode(): Node {
    const groups: string[][] = [];
    let omit = false;
    let t: Tok;
    for (;;) {
      groups.push(this.#labels());
      t = this.lx.next();
      if (t.kind !== 'OMIT_NO_REF') break;
      omit = true;
    }
    let n: Node;
    if (t.kind === 'DEL_NODE') {
      const nm = this.lx.next();
      if (nm.kind !== 'PROPNODENAME') this.#syntax(nm);
      const end = this.#expectChar(';');
      n = new Node();
      n.deleted = true;
      n.name = nm.text;
      n.pos = spanPos(t.pos, end.pos);
    } else if (t.kind === 'PROPNODENAME') {
      n = this.#nodedef();
      n.name = t.text;
    } else this.#syntax(t);
    if (omit) n.omitIfUnused = true;
    // the innermost subnode's labels first, as the grammar's recursion adds them
    for (let g = groups.length - 1; g >= 0; g--) {
      const labels = groups[g]!;
      for (let i = labels.length - 1; i >= 0; i--) {
        addLabel(n.labels, labels[i]!);
        this.#holds(n, labels[i]!);
      }
    }
    return n;
  }

  /** propdata: items separated by ',', labels anywhere between them. */
  #propdata(): Data {
    const d = new Data();
    for (;;) {
      for (const l of this.#labels()) d.mark('LABEL', l);
      const t = this.lx.next();
      if (t.kind === 'STRING') d.merge(new Data().mark('TYPE_STRING', '').appendLatin1(t.text + '\0'));
      else if (this.#isChar(t, '<') || t.kind === 'BITS') d.merge(this.#array(t));
      else if (this.#isChar(t, '[')) {
        d.mark('TYPE_UINT8', '');
        for (;;) {
          const b = this.lx.next();
          if (b.kind === 'BYTE') d.val.push(Number(b.value));
          else if (b.kind === 'LABEL') d.mark('LABEL', b.text);
          else if (this.#isChar(b, ']')) break;
          else this.#syntax(b);
        }
      } else if (t.kind === 'LABEL_REF' || t.kind === 'PATH_REF') d.mark('TYPE_STRING', t.text).mark('REF_PATH', t.text);
      else if (t.kind === 'INCBIN') {
        this.#expectChar('(');
        const name = this.lx.next();
        if (name.kind !== 'STRING') this.#syntax(name);
        let offset = 0n, len = -1n;
        const sep = this.lx.next();
        if (this.#isChar(sep, ',')) {
          offset = this.#prim().v;
          this.#expectChar(',');
          len = this.#prim().v;
          this.#expectChar(')');
        } else if (!this.#isChar(sep, ')')) this.#syntax(sep);
        let file: Uint8Array;
        try {
          file = this.incbin(name.text, this.lx.currentFile);
        } catch (e) {
          if (e instanceof DtsError) this.lx.diag.fatal(e.detail);
          throw e;
        }
        const start = Number(offset > BigInt(file.length) ? BigInt(file.length) : offset);
        const end = len < 0n ? file.length : Math.min(file.length, start + Number(len));
        d.merge(new Data().mark('TYPE_NONE', '').appendLatin1(bytesToLatin1(file.subarray(start, end))));
      } else this.#syntax(t);
      for (const l of this.#labels()) d.mark('LABEL', l);
      if (!this.#isChar(this.lx.peek(), ',')) return d;
      this.lx.next();
    }
  }

  /** arrayprefix ... '>' */
  #array(first: Tok): Data {
    let bits = 32;
    if (first.kind === 'BITS') {
      const n = this.lx.next();
      if (n.kind !== 'LITERAL') this.#syntax(n);
      this.#expectChar('<');
      bits = Number(n.value);
      if (![8, 16, 32, 64].includes(bits) || n.value > 64n) {
        this.#err('Array elements must be 8, 16, 32 or 64-bits', n.pos);
        bits = 32;
      }
    }
    const d = new Data().mark(bits === 8 ? 'TYPE_UINT8' : bits === 16 ? 'TYPE_UINT16' : bits === 64 ? 'TYPE_UINT64' : 'TYPE_UINT32', '');
    const mask = bits < 64 ? (1n << BigInt(bits)) - 1n : M64;
    for (;;) {
      const t = this.lx.peek();
      if (this.#isChar(t, '>')) {
        this.lx.next();
        return d;
      }
      if (t.kind === 'LABEL') {
        this.lx.next();
        d.mark('LABEL', t.text);
      } else if (t.kind === 'LABEL_REF' || t.kind === 'PATH_REF') {
        this.lx.next();
        if (bits !== 32) this.#err('References are only allowed in arrays with 32-bit elements.', t.pos);
        else d.mark('REF_PHANDLE', t.text);
        d.appendInt(mask, bits);
      } else {
        const { v, pos } = this.#prim();
        if (bits < 64 && v > mask && (v | mask) !== M64) this.#err(`Value out of range for ${bits}-bit array element`, pos);
        d.appendInt(v & mask, bits);
      }
    }
  }

  /** One more level of a nested form (the parser recurses per level), bounded. */
  #nest<T>(what: 'nodes' | 'expression', pos: SrcPos, fn: () => T): T {
    const depth = what === 'nodes' ? ++this.#nodeDepth : ++this.#exprDepth;
    if (depth > MAX_NESTING) this.#abort(`${what} nested more than ${MAX_NESTING} deep`, pos);
    try {
      return fn();
    } finally {
      if (what === 'nodes') this.#nodeDepth--;
      else this.#exprDepth--;
    }
  }

  /** integer_prim: literal, char literal, or '(' expr ')'; with its source range. */
  #prim(): Val {
    const t = this.lx.next();
    if (t.kind === 'LITERAL' || t.kind === 'CHAR_LITERAL') return { v: t.value, pos: t.pos };
    if (this.#isChar(t, '(')) {
      const v = this.#nest('expression', t.pos, () => this.#expr());
      const close = this.#expectChar(')');
      return { v: v.v, pos: spanPos(t.pos, close.pos) };
    }
    this.#syntax(t);
  }

  /** integer_trinary: integer_or '?' integer_expr ':' integer_trinary (both arms are evaluated, as in dtc). */
  #expr(): Val {
    const c = this.#binary(0);
    if (this.#isChar(this.lx.peek(), '?')) {
      const q = this.lx.next();
      const a = this.#nest('expression', q.pos, () => this.#expr());
      this.#expectChar(':');
      const b = this.#nest('expression', q.pos, () => this.#expr());
      return { v: c.v ? a.v : b.v, pos: spanPos(c.pos, b.pos) };
    }
    return c;
  }

  /** Precedence climbing over dtc's levels: || && | ^ & ==,!= <,>,<=,>= <<,>> +,- *,/,% */
  #binary(level: number): Val {
    if (level === LEVELS.length) return this.#unary();
    let l = this.#binary(level + 1);
    for (;;) {
      const t = this.lx.peek();
      const op = t.kind === 'OP' || t.kind === 'CHAR' ? t.text : '';
      if (!LEVELS[level]!.includes(op)) return l;
      this.lx.next();
      const r = this.#binary(level + 1);
      const pos = spanPos(l.pos, r.pos);
      const v = apply(op, l.v, r.v);
      if (v === undefined) {
        this.#err('Division by zero', pos);
        l = { v: 0n, pos };
      } else l = { v, pos };
    }
  }

  #unary(): Val {
    const t = this.lx.peek();
    if (t.kind === 'CHAR' && (t.text === '-' || t.text === '~' || t.text === '!')) {
      this.lx.next();
      const { v, pos } = this.#nest('expression', t.pos, () => this.#unary());
      return { v: t.text === '-' ? u64(-v) : t.text === '~' ? u64(~v) : v === 0n ? 1n : 0n, pos: spanPos(t.pos, pos) };
    }
    return this.#prim();
  }
}

interface Val {
  v: bigint;
  pos: SrcPos;
}

const LEVELS: readonly (readonly string[])[] = [
  ['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%'],
];

/** A binary operator with dtc's 64-bit rules; undefined for a division by zero. */
function apply(op: string, a: bigint, b: bigint): bigint | undefined {
  switch (op) {
    case '||': return a || b ? 1n : 0n;
    case '&&': return a && b ? 1n : 0n;
    case '|': return a | b;
    case '^': return a ^ b;
    case '&': return a & b;
    case '==': return a === b ? 1n : 0n;
    case '!=': return a !== b ? 1n : 0n;
    case '<': return a < b ? 1n : 0n;
    case '>': return a > b ? 1n : 0n;
    case '<=': return a <= b ? 1n : 0n;
    case '>=': return a >= b ? 1n : 0n;
    case '<<': return b < 64n ? u64(a << b) : 0n;
    case '>>': return b < 64n ? a >> b : 0n;
    case '+': return u64(a + b);
    case '-': return u64(a - b);
    case '*': return u64(a * b);
    case '/': return b === 0n ? undefined : a / b;
    case '%': return b === 0n ? undefined : a % b;
  }
  return 0n;
}

/** Whether `n` is reached from `root` through live nodes (as get_node_by_label walks; the root itself may be deleted). */
function inTree(root: Node, n: Node): boolean {
  for (let at = n; at !== root; ) {
    // a node's parent link is cleared when a merge drops it, and children are never taken out
    if (at.deleted || !at.parent) return false;
    at = at.parent;
  }
  return true;
}

/** Levels in a subtree, the node itself included (without recursion: merged trees can be deep). */
function heightOf(top: Node): number {
  let height = 0;
  const stack: [Node, number][] = [[top, 1]];
  for (let e = stack.pop(); e; e = stack.pop()) {
    const [n, d] = e;
    if (d > height) height = d;
    // a /delete-node/ in the subtree is a marker, not a level
    for (const c of n.children) if (!c.deleted) stack.push([c, d + 1]);
  }
  return height;
}

/** livetree.c guess_boot_cpuid: `reg` of the first child of /cpus when it is one cell. */
function guessBootCpuid(root: Node): number {
  const cpus = getNodeByPath(root, '/cpus');
  const first = cpus?.children[0];
  const reg = first?.getProp('reg');
  if (!reg || reg.val.len !== 4) return 0;
  const v = reg.val.val;
  return ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
}
