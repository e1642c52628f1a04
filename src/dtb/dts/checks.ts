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
  /**
   * -W and -E options in command-line order: [W or E, check name or no-name]. -W turns a check's warning
   * on (or off), -E its error; raising a check raises its prerequisites, lowering it lowers the checks
   * that need it. An unknown name throws (dtc: "Unrecognized check name").
   */
  readonly checks?: readonly (readonly ['W' | 'E', string])[];
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
  /** The check being run, and how many times it has failed. */
  #cur: Check | undefined;
  #curFails = 0;
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
  #msg(c: Check, n: Node | undefined, p: Property | undefined, text: string): void {
    const q = this.opts.quiet ?? 0;
    if (!(c.warn && q < 1) && !(c.error && q < 2)) return;
    if (this.saturated) {
      this.dropped = true;
      return;
    }
    this.#found++;
    const pos = p?.pos ?? n?.pos;
    const out = this.opts.outName ?? '-';
    let str = `${pos ? srcposString(pos) : out === '-' ? '<stdout>' : out}: ${c.error ? 'ERROR' : 'Warning'} (${c.name}): `;
    if (n) str += p ? `${pathOf(n)}:${p.name}: ` : `${pathOf(n)}: `;
    str += `${text}\n`;
    if (n && !p && pos)
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
  /** FAIL / FAIL_PROP of the check being run. */
  #fail(n: Node, msg: string, p?: Property): void {
    const c = this.#cur!;
    c.status = FAILED;
    this.#curFails++;
    this.#msg(c, n, p, msg);
  }
  /** Whether the running check has failed and no more of its messages can be shown: loops that find many stop. */
  get #done(): boolean {
    return this.#curFails > 0 && (this.saturated || this.#curFails >= MAX_MESSAGES);
  }

  /** process_checks: every enabled check in dtc's table order, prerequisites first; the first failing error check stops the rest. */
  run(): void {
    const table = this.#table();
    for (const c of table) {
      if (!(c.warn || c.error)) continue;
      if (this.#runCheck(c)) {
        this.failed = true;
        break;
      }
    }
    this.#nodeLabels = undefined;
  }

  names(): string[] {
    return this.#table().map((c) => c.name);
  }

  /** run_check: true when the check (or a prerequisite) is an error check that did not pass. */
  #runCheck(c: Check): boolean {
    let error = false;
    if (c.status === UNCHECKED) {
      for (const prq of c.prereqs) {
        error = error || this.#runCheck(prq);
        if (prq.status !== PASSED) {
          c.status = PREREQ;
          this.#msg(c, undefined, undefined, `Failed prerequisite '${prq.name}'`);
        }
      }
      if (c.status === UNCHECKED) {
        const fn = c.make?.();
        const saved = [this.#cur, this.#curFails] as const;
        this.#cur = c;
        this.#curFails = 0;
        if (fn) this.#walk(this.dti.root, fn);
        [this.#cur, this.#curFails] = saved;
        if (c.status === UNCHECKED) c.status = PASSED;
      }
    }
    if (c.status !== PASSED && c.error) error = true;
    return error;
  }

  /** dtc's check_table with its prerequisites; -W/-E options applied. */
  #table(): Check[] {
    const all: Check[] = [];
    const check = (name: string, kind: 'W' | 'E' | 'C', make: (() => ((n: Node) => void) | undefined) | undefined, ...prereqs: Check[]): Check => {
      const c: Check = { name, make, warn: kind === 'W', error: kind === 'E', status: UNCHECKED, prereqs };
      all.push(c);
      return c;
    };
    const root = this.dti.root;
    const names = this.opts.nameChecks ?? false;

    // ---- structure
    const duplicateNodeNames = check('duplicate_node_names', 'E', () => (n) => {
      for (const [i, later] of laterNamesakes(n.children)) {
        if (n.children[i]!.deleted) continue;
        for (const j of later) this.#fail(n.children[j]!, 'Duplicate node name');
        if (this.#done) return;
      }
    });
    check('duplicate_property_names', 'E', () => (n) => {
      for (const [i, later] of laterNamesakes(n.props)) {
        const p = n.props[i]!;
        if (p.deleted) continue;
        for (const j of later) if (!n.props[j]!.deleted) this.#fail(n, 'Duplicate property name', p);
        if (this.#done) return;
      }
    });
    // the name-character checks are the CLI's (dtc's); the library compiles any tree the model can hold
    const nodeNameChars = check('node_name_chars', 'E', () => names ? (n) => {
      const bad = /[^a-zA-Z0-9,._+\-@]/.exec(n.name);
      if (bad) this.#fail(n, `Bad character '${bad[0]}' in node name`);
    } : undefined);
    const nodeNameFormat = check('node_name_format', 'E', () => names ? (n) => {
      if (unitName(n).includes('@')) this.#fail(n, "multiple '@' characters in node name");
    } : undefined, nodeNameChars);
    check('property_name_chars', 'E', () => names ? (n) => {
      for (const p of n.liveProps()) {
        const bad = /[^a-zA-Z0-9,._+*#?\-]/.exec(p.name);
        if (bad) this.#fail(n, `Bad character '${bad[0]}' in property name`, p);
      }
    } : undefined);
    const nameIsString = check('name_is_string', 'E', () => this.#isString('name'));
    check('name_properties', 'E', () => (n) => {
      const i = n.props.findIndex((p) => p.name === 'name');
      if (i < 0) return;
      const p = n.props[i]!;
      const base = n.basename;
      const ok = p.val.len === base.length + 1 && p.val.val.slice(0, base.length).every((b, k) => b === base.charCodeAt(k));
      // the correct "name" property is redundant: dtc removes it
      if (ok) n.props.splice(i, 1);
      else this.#fail(n, `"name" property is incorrect ("${cString(p.val)}" instead of base node name)`);
    }, nameIsString);
    check('node_name_vs_property_name', 'W', () => {
      const propNames = new Map<Node, Set<string>>();
      return (n) => {
        const parent = n.parent;
        if (!parent) return;
        let set = propNames.get(parent);
        if (!set) propNames.set(parent, (set = new Set(parent.liveProps().map((p) => p.name))));
        if (set.has(n.name)) this.#fail(n, 'node name and property name conflict');
      };
    }, nodeNameChars);
    check('duplicate_label', 'E', () => {
      const first = this.#labelHolders();
      return (n) => {
        for (const l of n.labels) if (!l.deleted) this.#duplicateLabel(first, l.label, n, undefined, undefined);
        for (const p of n.liveProps()) {
          for (const l of p.labels) if (!l.deleted) this.#duplicateLabel(first, l.label, n, p, undefined);
          for (const m of p.val.markers) if (m.type === 'LABEL') this.#duplicateLabel(first, m.ref, n, p, m);
        }
      };
    });

    // ---- references (these change the tree)
    const explicitPhandles = check('explicit_phandles', 'E', () => (n) => {
      let ph = this.#checkPhandleProp(n, 'phandle');
      const lph = this.#checkPhandleProp(n, 'linux,phandle');
      if (!ph && !lph) return;
      if (ph && lph && ph !== lph) this.#fail(n, "mismatching 'phandle' and 'linux,phandle' properties");
      if (lph && !ph) ph = lph;
      const other = this.#byPhandle.get(ph);
      if (other && other !== n && !other.deleted) {
        this.#fail(n, `duplicated phandle 0x${ph.toString(16)} (seen before at ${other.fullpath})`);
        return;
      }
      n.phandle = ph;
      if (!other || other.deleted) this.#byPhandle.set(ph, n);
    });
    const phandleReferences = check('phandle_references', 'E', () => (n) => {
      for (const p of n.liveProps()) {
        for (const m of p.val.markers) {
          if (m.type !== 'REF_PHANDLE') continue;
          const ref = this.#byRef(m.ref);
          if (!ref) {
            if (!this.dti.plugin) this.#fail(n, `Reference to non-existent node or label "${m.ref}"\n`);
            else p.val.setU32(m.offset, 0xffffffff);
            continue;
          }
          p.val.setU32(m.offset, this.nodePhandle(ref));
          ref.isReferenced = true;
        }
      }
    }, duplicateNodeNames, explicitPhandles);
    const pathReferences = check('path_references', 'E', () => (n) => {
      for (const p of n.liveProps()) {
        const ms = p.val.markers;
        for (let i = 0; i < ms.length; i++) {
          const m = ms[i]!;
          if (m.type !== 'REF_PATH') continue;
          const ref = this.#byRef(m.ref);
          if (!ref) {
            this.#fail(n, `Reference to non-existent node or label "${m.ref}"\n`);
            continue;
          }
          const path = ref.fullpath + '\0';
          p.val.insertAt(i, Array.from(path, (ch) => ch.charCodeAt(0) & 0xff));
          ref.isReferenced = true;
        }
      }
    }, duplicateNodeNames);
    check('omit_unused_nodes', 'E', () => (n) => {
      if (this.opts.symbols && n.labels.length) return;
      if (n.omitIfUnused && !n.isReferenced) deleteNode(n);
    }, phandleReferences, pathReferences);

    // ---- semantics (warnings; they change nothing)
    const addressCellsIsCell = check('address_cells_is_cell', 'W', () => this.#isCell('#address-cells'));
    const sizeCellsIsCell = check('size_cells_is_cell', 'W', () => this.#isCell('#size-cells'));
    const deviceTypeIsString = check('device_type_is_string', 'W', () => this.#isString('device_type'));
    check('model_is_string', 'W', () => this.#isString('model'));
    check('status_is_string', 'W', () => this.#isString('status'));
    check('label_is_string', 'W', () => this.#isString('label'));
    const compatibleIsStringList = check('compatible_is_string_list', 'W', () => (n) => this.#isStringList(n, 'compatible'));
    check('names_is_string_list', 'W', () => (n) => {
      for (const p of n.liveProps()) if (p.name.endsWith('-names')) this.#isStringList(n, p.name);
    });
    check('property_name_chars_strict', 'C', () => (n) => {
      for (const p of n.liveProps()) {
        let name = p.name;
        let k = strspnStrict(name);
        if (k === name.length || name === 'device_type') continue;
        // '#' only at the start of the name after the vendor prefix
        if (name[k] === '#' && (k === 0 || name[k - 1] === ',')) {
          name = name.slice(k + 1);
          k = strspnStrict(name);
        }
        if (k < name.length) this.#fail(n, `Character '${name[k]}' not recommended in property name`, p);
      }
    });
    check('node_name_chars_strict', 'C', () => (n) => {
      const k = strspnStrict(n.name);
      if (k < n.basename.length) this.#fail(n, `Character '${n.name[k]}' not recommended in node name`);
    });
    const addrSizeCells = check('addr_size_cells', 'W', () => (n) => {
      const a = n.getProp('#address-cells'), s = n.getProp('#size-cells');
      this.#cells.set(n, [a ? propvalCell(a) : -1, s ? propvalCell(s) : -1]);
    }, addressCellsIsCell, sizeCellsIsCell);
    const regFormat = check('reg_format', 'W', () => (n) => {
      const p = n.getProp('reg');
      if (!p) return;
      if (!n.parent) return this.#fail(n, 'Root node has a "reg" property');
      if (p.val.len === 0) this.#fail(n, 'property is empty', p);
      const ac = this.#addrCells(n.parent), sc = this.#sizeCells(n.parent);
      if (!isMultipleOf(p.val.len, Math.imul(ac + sc, 4)))
        this.#fail(n, `property has invalid length (${p.val.len} bytes) (#address-cells == ${ac}, #size-cells == ${sc})`, p);
    }, addrSizeCells);
    const rangesFormat = (ranges: string) => (n: Node): void => {
      const p = n.getProp(ranges);
      if (!p) return;
      if (!n.parent) return this.#fail(n, `Root node has a "${ranges}" property`, p);
      const pac = this.#addrCells(n.parent), psc = this.#sizeCells(n.parent), cac = this.#addrCells(n), csc = this.#sizeCells(n);
      if (p.val.len === 0) {
        if (pac !== cac) this.#fail(n, `empty "${ranges}" property but its #address-cells (${cac}) differs from ${n.parent.fullpath} (${pac})`, p);
        if (psc !== csc) this.#fail(n, `empty "${ranges}" property but its #size-cells (${csc}) differs from ${n.parent.fullpath} (${psc})`, p);
      } else if (!isMultipleOf(p.val.len, Math.imul(pac + cac + csc, 4))) {
        this.#fail(n, `"${ranges}" property has invalid length (${p.val.len} bytes) (parent #address-cells == ${pac}, child #address-cells == ${cac}, #size-cells == ${csc})`, p);
      }
    };
    check('ranges_format', 'W', () => rangesFormat('ranges'), addrSizeCells);
    check('dma_ranges_format', 'W', () => rangesFormat('dma-ranges'), addrSizeCells);
    check('unit_address_vs_reg', 'W', () => (n) => {
      if (n.getSubnode('__overlay__')) return; // overlay fragments
      let p = n.getProp('reg');
      if (!p) {
        p = n.getProp('ranges');
        if (p && !p.val.len) p = undefined;
      }
      const unit = unitName(n);
      if (p && !unit) this.#fail(n, 'node has a reg or ranges property, but no unit name');
      else if (!p && unit) this.#fail(n, 'node has a unit name, but no reg or ranges property');
    });
    // unit_address_format comes before the bus checks in the table and needs two of them: they are made first
    const pciBridge: Check = { name: 'pci_bridge', make: () => (n) => this.#pciBridge(n), warn: true, error: false, status: UNCHECKED, prereqs: [deviceTypeIsString, addrSizeCells] };
    const simpleBusBridge: Check = {
      name: 'simple_bus_bridge', warn: true, error: false, status: UNCHECKED, prereqs: [addrSizeCells, compatibleIsStringList],
      make: () => (n) => {
        if (isCompatible(n, 'simple-bus')) this.#bus.set(n, 'simple-bus');
      },
    };
    check('unit_address_format', 'W', () => (n) => {
      if (n.parent && this.#bus.get(n.parent)) return;
      let unit = unitName(n);
      if (!unit) return;
      if (unit.startsWith('0x')) {
        this.#fail(n, 'unit name should not have leading "0x"');
        unit = unit.slice(2);
      }
      if (unit[0] === '0' && /^[0-9a-fA-F]$/.test(unit[1] ?? '')) this.#fail(n, 'unit name should not have leading 0s');
    }, nodeNameFormat, pciBridge, simpleBusBridge);
    all.push(pciBridge);
    check('pci_device_reg', 'W', () => (n) => this.#pciDeviceReg(n), regFormat, pciBridge);
    check('pci_device_bus_num', 'W', () => (n) => {
      if (!n.parent || this.#bus.get(n.parent) !== 'pci') return;
      const reg = n.getProp('reg');
      if (!reg) return;
      const bus = (cellAt(reg, 0) & 0xff0000) >>> 16;
      const range = n.parent.getProp('bus-range');
      // dtc 1.6.1 takes both ends of the range from its first cell
      const min = range ? cellAt(range, 0) : 0, max = min;
      if (bus < min || bus > max) this.#fail(n, `PCI bus number ${bus} out of range, expected (${min} - ${max})`, range);
    }, regFormat, pciBridge);
    all.push(simpleBusBridge);
    check('simple_bus_reg', 'W', () => (n) => {
      if (!n.parent || this.#bus.get(n.parent) !== 'simple-bus') return;
      let cells: { p: Property; at: number } | undefined;
      const reg = n.getProp('reg');
      if (reg) cells = { p: reg, at: 0 };
      else {
        const ranges = n.getProp('ranges');
        // past the child address
        if (ranges && ranges.val.len) cells = { p: ranges, at: this.#addrCells(n) };
      }
      if (!cells) {
        if (n.parent.parent && this.#bus.get(n) !== 'simple-bus') this.#fail(n, 'missing or empty reg/ranges property');
        return;
      }
      let v = 0n;
      const count = this.#addrCells(n.parent);
      for (let i = 0; i < count && (cells.at + i) * 4 < cells.p.val.len; i++) v = ((v << 32n) | BigInt(cellAt(cells.p, cells.at + i))) & 0xffffffffffffffffn;
      const want = v.toString(16);
      if (unitName(n) !== want) this.#fail(n, `simple-bus unit address format error, expected "${want}"`);
    }, regFormat, simpleBusBridge);
    const i2cBusBridge = check('i2c_bus_bridge', 'W', () => (n) => {
      const base = n.basename;
      if (base === 'i2c-bus' || base === 'i2c-arb') this.#bus.set(n, 'i2c');
      else if (base === 'i2c') {
        // (dtc compares the first 3 characters of each child's name with "i2c-bus", which never matches)
        this.#bus.set(n, 'i2c');
      } else return;
      if (!n.children.length) return;
      if (this.#addrCells(n) !== 1) this.#fail(n, 'incorrect #address-cells for I2C bus');
      if (this.#sizeCells(n) !== 0) this.#fail(n, 'incorrect #size-cells for I2C bus');
    }, addrSizeCells);
    check('i2c_bus_reg', 'W', () => (n) => {
      if (!n.parent || this.#bus.get(n.parent) !== 'i2c') return;
      const p = n.getProp('reg');
      if (!p) return this.#fail(n, 'missing or empty reg property');
      const first = (cellAt(p, 0) & ~I2C_OWN_SLAVE_ADDRESS) >>> 0;
      const want = first.toString(16);
      if (unitName(n) !== want) this.#fail(n, `I2C bus unit address format error, expected "${want}"`);
      for (let len = p.val.len, i = 0; len > 0; len -= 4, i++) {
        const reg = (cellAt(p, i) & ~I2C_OWN_SLAVE_ADDRESS) >>> 0;
        if (reg & I2C_TEN_BIT_ADDRESS && (reg & ~I2C_TEN_BIT_ADDRESS) >>> 0 > 0x3ff)
          this.#fail(n, `I2C address must be less than 10-bits, got "0x${reg.toString(16)}"`, p);
        else if (reg > 0x7f)
          this.#fail(n, `I2C address must be less than 7-bits, got "0x${reg.toString(16)}". Set I2C_TEN_BIT_ADDRESS for 10 bit addresses or fix the property`, p);
      }
    }, regFormat, i2cBusBridge);
    const spiBusBridge = check('spi_bus_bridge', 'W', () => (n) => {
      if (n.basename === 'spi') this.#bus.set(n, 'spi');
      else {
        // SPI buses without the proper name: a child with an spi- property
        if (this.#addrCells(n) !== 1 || this.#sizeCells(n) !== 0) return;
        if (n.liveChildren().some((c) => c.liveProps().some((p) => p.name.startsWith('spi-')))) this.#bus.set(n, 'spi');
        if (this.#bus.get(n) === 'spi' && n.getProp('reg')) this.#fail(n, "node name for SPI buses should be 'spi'");
      }
      if (this.#bus.get(n) !== 'spi' || !n.children.length) return;
      const spiAddrCells = n.getProp('spi-slave') ? 0 : 1;
      if (this.#addrCells(n) !== spiAddrCells) this.#fail(n, 'incorrect #address-cells for SPI bus');
      if (this.#sizeCells(n) !== 0) this.#fail(n, 'incorrect #size-cells for SPI bus');
    }, addrSizeCells);
    check('spi_bus_reg', 'W', () => (n) => {
      if (!n.parent || this.#bus.get(n.parent) !== 'spi' || n.parent.getProp('spi-slave')) return;
      const p = n.getProp('reg');
      if (!p) return this.#fail(n, 'missing or empty reg property');
      const want = cellAt(p, 0).toString(16);
      if (unitName(n) !== want) this.#fail(n, `SPI bus unit address format error, expected "${want}"`);
    }, regFormat, spiBusBridge);
    const avoidDefaultAddrSize = check('avoid_default_addr_size', 'W', () => (n) => {
      if (!n.parent) return;
      if (!n.getProp('reg') && !n.getProp('ranges')) return;
      const [ac, sc] = this.#cells.get(n.parent) ?? [0, 0];
      if (ac === -1) this.#fail(n, 'Relying on default #address-cells value');
      if (sc === -1) this.#fail(n, 'Relying on default #size-cells value');
    }, addrSizeCells);
    check('avoid_unnecessary_addr_size', 'W', () => (n) => {
      const [ac, sc] = this.#cells.get(n) ?? [0, 0];
      if (!n.parent || ac < 0 || sc < 0) return;
      if (n.getProp('ranges') || !n.children.length) return;
      if (!n.liveChildren().some((c) => c.getProp('reg')))
        this.#fail(n, 'unnecessary #address-cells/#size-cells without "ranges" or child "reg" property');
    }, avoidDefaultAddrSize);
    check('unique_unit_address', 'W', () => (n) => this.#uniqueUnitAddress(n, false), avoidDefaultAddrSize);
    check('unique_unit_address_if_enabled', 'C', () => (n) => this.#uniqueUnitAddress(n, true), avoidDefaultAddrSize);
    check('obsolete_chosen_interrupt_controller', 'W', () => (n) => {
      if (n !== root) return;
      const p = getNodeByPath(root, '/chosen')?.getProp('interrupt-controller');
      if (p) this.#fail(n, '/chosen has obsolete "interrupt-controller" property', p);
    });
    check('chosen_node_is_root', 'W', () => (n) => {
      if (n.name === 'chosen' && n.parent !== root) this.#fail(n, 'chosen node must be at root node');
    });
    check('chosen_node_bootargs', 'W', () => (n) => {
      if (n.name === 'chosen' && n.getProp('bootargs')) this.#isString('bootargs')(n);
    });
    check('chosen_node_stdout_path', 'W', () => (n) => {
      if (n.name !== 'chosen') return;
      let p = n.getProp('stdout-path');
      if (!p) {
        p = n.getProp('linux,stdout-path');
        if (!p) return;
        this.#fail(n, "Use 'stdout-path' instead", p);
      }
      this.#isString(p.name)(n);
    });
    for (const [prop, cells, optional] of PROVIDERS) {
      const base = prop.replace(/-/g, '_');
      const isCell: Check = { name: `${base}_is_cell`, make: () => this.#isCell(cells), warn: true, error: false, status: UNCHECKED, prereqs: [] };
      check(`${base}_property`, 'W', () => (n) => {
        const p = n.getProp(prop);
        if (p) this.#phandleArgs(n, p, cells, optional);
      }, isCell, phandleReferences);
      all.push(isCell);
    }
    check('deprecated_gpio_property', 'C', () => (n) => {
      for (const p of n.liveProps()) if (isGpio(p) && p.name.endsWith('gpio')) this.#fail(n, "'[*-]gpio' is deprecated, use '[*-]gpios' instead", p);
    });
    check('gpios_property', 'W', () => (n) => {
      if (n.getProp('gpio-hog')) return; // GPIO hogs have a 'gpios' property
      for (const p of n.liveProps()) if (isGpio(p)) this.#phandleArgs(n, p, '#gpio-cells', false);
    }, phandleReferences);
    check('interrupts_property', 'W', () => (n) => this.#interrupts(n));
    check('interrupt_provider', 'W', () => (n) => {
      if (!isInterruptProvider(n)) return;
      if (!n.getProp('#interrupt-cells')) this.#fail(n, 'Missing #interrupt-cells in interrupt provider');
      if (!n.getProp('#address-cells')) this.#fail(n, 'Missing #address-cells in interrupt provider');
    });
    check('alias_paths', 'W', () => (n) => {
      if (n.name !== 'aliases') return;
      for (const p of n.liveProps()) {
        if (p.name === 'phandle' || p.name === 'linux,phandle') continue;
        const path = p.val.len ? cString(p.val) : undefined;
        if (path === undefined || !getNodeByPath(root, path)) {
          this.#fail(n, `aliases property is not a valid node (${path ?? '(null)'})`, p);
          continue;
        }
        if (!/^[a-z0-9-]*$/.test(p.name)) this.#fail(n, "aliases property name must include only lowercase and '-'");
      }
    });
    const graphNodes = check('graph_nodes', 'W', () => (n) => {
      for (const c of n.liveChildren()) {
        if (!(c.basename === 'endpoint' || c.getProp('remote-endpoint'))) continue;
        this.#bus.set(n, 'graph-port');
        // the parent of 'port' nodes is either 'ports' or a device
        if (n.parent && !this.#bus.get(n.parent) && (n.parent.name === 'ports' || n.getProp('reg'))) this.#bus.set(n.parent, 'graph-ports');
        break;
      }
    });
    check('graph_child_address', 'W', () => (n) => {
      const bus = this.#bus.get(n);
      if (bus !== 'graph-ports' && bus !== 'graph-port') return;
      let count = 0;
      for (const c of n.liveChildren()) {
        const reg = c.getProp('reg');
        if (reg && propvalCell(reg) !== 0) return; // a non-zero unit address
        count++;
      }
      if (count === 1 && (this.#cells.get(n)?.[0] ?? 0) !== -1)
        this.#fail(n, `graph node has single child node '${n.children[0]!.name}', #address-cells/#size-cells are not necessary`);
    }, graphNodes);
    check('graph_port', 'W', () => (n) => {
      if (this.#bus.get(n) !== 'graph-port') return;
      if (n.basename !== 'port') this.#fail(n, "graph port node name should be 'port'");
      this.#graphReg(n);
    }, graphNodes);
    check('graph_endpoint', 'W', () => (n) => {
      if (!n.parent || this.#bus.get(n.parent) !== 'graph-port') return;
      if (n.basename !== 'endpoint') this.#fail(n, "graph endpoint node name should be 'endpoint'");
      this.#graphReg(n);
      const remote = this.#remoteEndpoint(n);
      if (remote && this.#remoteEndpoint(remote) !== n) this.#fail(n, `graph connection to node '${remote.fullpath}' is not bidirectional`);
    }, graphNodes);
    check('always_fail', 'C', () => (n) => this.#fail(n, 'always_fail check'));

    for (const [warn, arg] of this.opts.checks ?? []) {
      const off = arg.startsWith('no-') || arg.startsWith('no_');
      const c = all.find((x) => x.name === (off ? arg.slice(3) : arg));
      if (!c) throw new DtsError(`Unrecognized check name "${off ? arg.slice(3) : arg}"`);
      if (off) disable(all, c, warn === 'W', warn === 'E');
      else enable(c, warn === 'W', warn === 'E');
    }
    return all;
  }

  /** check_is_string on property `name`. */
  #isString(name: string): (n: Node) => void {
    return (n) => {
      const p = n.getProp(name);
      if (p && !isOneString(p.val)) this.#fail(n, 'property is not a string', p);
    };
  }
  /** check_is_string_list on property `name`. */
  #isStringList(n: Node, name: string): void {
    const p = n.getProp(name);
    if (p && p.val.len && p.val.val[p.val.len - 1] !== 0) this.#fail(n, 'property is not a string list', p);
  }
  /** check_is_cell on property `name`. */
  #isCell(name: string): (n: Node) => void {
    return (n) => {
      const p = n.getProp(name);
      if (p && p.val.len !== 4) this.#fail(n, 'property is not a single cell', p);
    };
  }

  /** Each node's #address-cells and #size-cells (-1: absent), as addr_size_cells found them (0 before). */
  readonly #cells = new Map<Node, [number, number]>();
  /** The bus each node bridges to, as the bus checks set it. */
  readonly #bus = new Map<Node, Bus>();
  #addrCells(n: Node): number {
    const a = this.#cells.get(n)?.[0] ?? 0;
    return a === -1 ? 2 : a;
  }
  #sizeCells(n: Node): number {
    const s = this.#cells.get(n)?.[1] ?? 0;
    return s === -1 ? 1 : s;
  }

  #pciBridge(n: Node): void {
    const type = n.getProp('device_type');
    if (!type || cString(type.val) !== 'pci') return;
    this.#bus.set(n, 'pci');
    if (n.basename !== 'pci' && n.basename !== 'pcie') this.#fail(n, 'node name is not "pci" or "pcie"');
    if (!n.getProp('ranges')) this.#fail(n, 'missing ranges for PCI bridge (or not a bridge)');
    if (this.#addrCells(n) !== 3) this.#fail(n, 'incorrect #address-cells for PCI bridge');
    if (this.#sizeCells(n) !== 2) this.#fail(n, 'incorrect #size-cells for PCI bridge');
    const range = n.getProp('bus-range');
    if (!range) return;
    if (range.val.len !== 8) return this.#fail(n, 'value must be 2 cells', range);
    if (cellAt(range, 0) > cellAt(range, 1)) this.#fail(n, '1st cell must be less than or equal to 2nd cell', range);
    if (cellAt(range, 1) > 0xff) this.#fail(n, 'maximum bus number must be less than 256', range);
  }

  #pciDeviceReg(n: Node): void {
    if (!n.parent || this.#bus.get(n.parent) !== 'pci') return;
    const p = n.getProp('reg');
    if (!p) return;
    if (cellAt(p, 1) || cellAt(p, 2)) this.#fail(n, 'PCI reg config space address cells 2 and 3 must be 0', p);
    const reg = cellAt(p, 0);
    const dev = (reg & 0xf800) >>> 11, func = (reg & 0x700) >>> 8;
    if (reg & 0xff000000) this.#fail(n, 'PCI reg address is not configuration space', p);
    if (reg & 0xff) this.#fail(n, 'PCI reg config space address register number must be 0', p);
    const unit = unitName(n);
    if (func === 0 && unit === dev.toString(16)) return;
    const want = `${dev.toString(16)},${func.toString(16)}`;
    if (unit !== want) this.#fail(n, `PCI unit address format error, expected "${want}"`);
  }

  /** check_unique_unit_address_common: each child against the earlier ones, through an index of unit addresses. */
  #uniqueUnitAddress(n: Node, enabledOnly: boolean): void {
    const [ac, sc] = this.#cells.get(n) ?? [0, 0];
    if (ac < 0 || sc < 0 || !n.children.length) return;
    const earlier = new Map<string, Node[]>();
    for (const a of n.liveChildren()) {
      const addr = unitName(a);
      if (!addr || (enabledOnly && isDisabled(a))) continue;
      const same = earlier.get(addr);
      if (!same) {
        earlier.set(addr, [a]);
        continue;
      }
      for (const b of same) {
        this.#fail(b, `duplicate unit-address (also used in node ${a.fullpath})`);
        if (this.#done) return;
      }
      same.push(a);
    }
  }

  /** get_node_by_phandle: the first live node in pre-order with that phandle (an index, made once the phandles are final). */
  #nodeByPhandle(ph: number): Node | undefined {
    if (ph === 0 || ph === 0xffffffff) return undefined;
    if (!this.#phandleIndex) {
      const index = new Map<number, Node>();
      this.#walk(this.dti.root, (n) => {
        if (n.phandle && !index.has(n.phandle)) index.set(n.phandle, n);
      });
      this.#phandleIndex = index;
    }
    return this.#phandleIndex.get(ph);
  }
  #phandleIndex: Map<number, Node> | undefined;

  /** check_property_phandle_args: `<&provider args…>` entries, each provider's `cells` property giving its argument count. */
  #phandleArgs(n: Node, p: Property, cellsName: string, optional: boolean): void {
    if (!isMultipleOf(p.val.len, 4)) return this.#fail(n, `property size (${p.val.len}) is invalid, expected multiple of 4`, p);
    const count = p.val.len / 4;
    for (let cell = 0, size = 0; cell < count; cell += size + 1) {
      const ph = cellAt(p, cell);
      // 0 and -1 skip optional entries
      if (ph === 0 || ph === 0xffffffff) {
        if (this.dti.plugin) break; // an overlay with external references
        size = 0;
        continue;
      }
      if (p.val.markers.length && !p.val.markers.some((m) => m.type === 'REF_PHANDLE' && m.offset === cell * 4))
        this.#fail(n, `cell ${cell} is not a phandle reference`, p);
      const provider = this.#nodeByPhandle(ph);
      if (!provider) {
        this.#fail(n, `Could not get phandle node for (cell ${cell})`, p);
        break;
      }
      const cp = provider.getProp(cellsName);
      if (cp) size = propvalCell(cp);
      else if (optional) size = 0;
      else {
        this.#fail(n, `Missing property '${cellsName}' in node ${provider.fullpath} or bad phandle (referred from ${p.name}[${cell}])`);
        break;
      }
      if (p.val.len < (cell + size + 1) * 4) this.#fail(n, `property size (${p.val.len}) too small for cell size ${size}`, p);
      // a negative count would go round forever in dtc
      if (size < 0) break;
    }
  }

  #interrupts(n: Node): void {
    const irq = n.getProp('interrupts');
    if (!irq) return;
    if (!isMultipleOf(irq.val.len, 4)) this.#fail(n, `size (${irq.val.len}) is invalid, expected multiple of 4`, irq);
    let provider: Node | undefined;
    for (let parent: Node | undefined = n; parent; parent = parent.parent) {
      if (parent !== n && isInterruptProvider(parent)) {
        provider = parent;
        break;
      }
      const ip = parent.getProp('interrupt-parent');
      if (!ip) continue;
      const ph = propvalCell(ip);
      if (ph === 0 || ph === -1) {
        if (this.dti.plugin) return; // an overlay with external references
        this.#fail(parent, 'Invalid phandle', ip);
        break;
      }
      provider = this.#nodeByPhandle(ph >>> 0);
      if (!provider) return this.#fail(parent, 'Bad phandle', ip);
      if (!isInterruptProvider(provider)) this.#fail(provider, 'Missing interrupt-controller or interrupt-map property');
      break;
    }
    if (!provider) return this.#fail(n, 'Missing interrupt-parent');
    const cellsProp = provider.getProp('#interrupt-cells');
    if (!cellsProp) return; // interrupt_provider reports it
    const want = Math.imul(propvalCell(cellsProp), 4);
    if (!isMultipleOf(irq.val.len, want)) this.#fail(n, `size is (${irq.val.len}), expected multiple of ${want}`, cellsProp);
  }

  #graphReg(n: Node): void {
    const p = n.getProp('reg');
    if (!p) return;
    if (p.val.len !== 4) return this.#fail(n, "graph node malformed 'reg' property");
    const want = cellAt(p, 0).toString(16);
    if (unitName(n) !== want) this.#fail(n, `graph node unit address error, expected "${want}"`);
    const [ac, sc] = this.#cells.get(n.parent!) ?? [0, 0];
    if (ac !== 1) this.#fail(n, `graph node '#address-cells' is ${ac}, must be 1`, n.getProp('#address-cells'));
    if (sc !== 0) this.#fail(n, `graph node '#size-cells' is ${sc}, must be 0`, n.getProp('#size-cells'));
  }

  #remoteEndpoint(n: Node): Node | undefined {
    const p = n.getProp('remote-endpoint');
    if (!p) return undefined;
    const ph = propvalCell(p);
    if (ph === 0 || ph === -1) return undefined; // an overlay with external references
    const remote = this.#nodeByPhandle(ph >>> 0);
    if (!remote) this.#fail(n, 'graph phandle is not valid', p);
    return remote;
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
      this.#fail(node, `Duplicate label '${label}' on ${desc(node, prop, mark)} and ${desc(other.n, other.p, other.m)}`);
    }
  }

  /** check_phandle_prop: 0 = none, a bad one (reported), or a self-reference (filled in later). */
  #checkPhandleProp(n: Node, name: string): number {
    const p = n.getProp(name);
    if (!p) return 0;
    if (p.val.len !== 4) {
      this.#fail(n, `bad length (${p.val.len}) ${name} property`, p);
      return 0;
    }
    const ref = p.val.markers.find((m) => m.type === 'REF_PHANDLE');
    if (ref) {
      if (n !== this.#byRef(ref.ref)) this.#fail(n, `${name} is a reference to another node`);
      return 0;
    }
    const v = cellAt(p, 0);
    if (v === 0 || v === 0xffffffff) {
      this.#fail(n, `bad value (0x${v.toString(16)}) in ${name} property`, p);
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

/** A check of dtc's table: its flags (-W/-E change them), prerequisites and state in one run. */
interface Check {
  readonly name: string;
  /** The per-node function, made when the check runs (undefined: nothing to do). */
  readonly make: (() => ((n: Node) => void) | undefined) | undefined;
  warn: boolean;
  error: boolean;
  status: number;
  readonly prereqs: Check[];
}
const UNCHECKED = 0, PREREQ = 1, PASSED = 2, FAILED = 3;
type Bus = 'pci' | 'simple-bus' | 'i2c' | 'spi' | 'graph-port' | 'graph-ports';

/** The phandle-with-arguments properties dtc checks: property, its provider's cell-count property, whether that may be absent. */
const PROVIDERS: readonly (readonly [string, string, boolean])[] = [
  ['clocks', '#clock-cells', false], ['cooling-device', '#cooling-cells', false], ['dmas', '#dma-cells', false],
  ['hwlocks', '#hwlock-cells', false], ['interrupts-extended', '#interrupt-cells', false], ['io-channels', '#io-channel-cells', false],
  ['iommus', '#iommu-cells', false], ['mboxes', '#mbox-cells', false], ['msi-parent', '#msi-cells', true],
  ['mux-controls', '#mux-control-cells', false], ['phys', '#phy-cells', false], ['power-domains', '#power-domain-cells', false],
  ['pwms', '#pwm-cells', false], ['resets', '#reset-cells', false], ['sound-dai', '#sound-dai-cells', false],
  ['thermal-sensors', '#thermal-sensor-cells', false],
];
const I2C_OWN_SLAVE_ADDRESS = 1 << 30;
const I2C_TEN_BIT_ADDRESS = 0x80000000;

/** A value as C reads it as a string: its bytes up to the first NUL. */
function cString(d: Data): string {
  const z = d.val.indexOf(0);
  return bytesToLatin1(Uint8Array.from(z < 0 ? d.val : d.val.slice(0, z)));
}
/** Cell `i` of a property (bytes past its end read as 0). */
function cellAt(p: Property, i: number): number {
  const v = p.val.val, at = i * 4;
  return (((v[at] ?? 0) << 24) | ((v[at + 1] ?? 0) << 16) | ((v[at + 2] ?? 0) << 8) | (v[at + 3] ?? 0)) >>> 0;
}
/** propval_cell as an int: 0xffffffff is -1. (dtc asserts a 4-byte value; others give their first cell here.) */
const propvalCell = (p: Property): number => cellAt(p, 0) | 0;
const isMultipleOf = (multiple: number, divisor: number): boolean => (divisor === 0 ? multiple === 0 : multiple % divisor === 0);
/** get_unitname: what follows the first '@', or "". */
function unitName(n: Node): string {
  const at = n.name.indexOf('@');
  return at < 0 ? '' : n.name.slice(at + 1);
}
/** strspn over letters, digits, ',' and '-'. */
function strspnStrict(s: string): number {
  const bad = /[^a-zA-Z0-9,-]/.exec(s);
  return bad ? bad.index : s.length;
}
/** node_is_compatible */
function isCompatible(n: Node, compat: string): boolean {
  const p = n.getProp('compatible');
  return !!p && cStrings(p.val).includes(compat);
}
/** The NUL-terminated strings of a value (the last one may lack its NUL). */
function cStrings(d: Data): string[] {
  const out: string[] = [];
  for (let at = 0; at < d.len; ) {
    let end = d.val.indexOf(0, at);
    if (end < 0) end = d.len;
    out.push(bytesToLatin1(Uint8Array.from(d.val.slice(at, end))));
    at = end + 1;
  }
  return out;
}
/** prop_is_gpio: *-gpios, gpios, *-gpio, gpio (but not *,nr-gpios). */
function isGpio(p: Property): boolean {
  if (p.name.endsWith(',nr-gpios')) return false;
  return p.name.endsWith('-gpios') || p.name === 'gpios' || p.name.endsWith('-gpio') || p.name === 'gpio';
}
const isInterruptProvider = (n: Node): boolean => !!(n.getProp('interrupt-controller') || n.getProp('interrupt-map'));
function isDisabled(n: Node): boolean {
  const p = n.getProp('status');
  return !!p && cString(p.val) === 'disabled';
}

/** enable_warning_error: raising a check's level raises its prerequisites' too. */
function enable(c: Check, warn: boolean, error: boolean): void {
  if ((warn && !c.warn) || (error && !c.error)) for (const p of c.prereqs) enable(p, warn, error);
  c.warn ||= warn;
  c.error ||= error;
}
/** disable_warning_error: lowering a check's level lowers it for the checks that need this one. */
function disable(all: readonly Check[], c: Check, warn: boolean, error: boolean): void {
  if ((warn && c.warn) || (error && c.error)) for (const cc of all) if (cc.prereqs.includes(c)) disable(all, cc, warn, error);
  c.warn &&= !warn;
  c.error &&= !error;
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

/** The names of dtc's checks, for -W and -E (`no-NAME` turns one off). */
export function checkNames(): string[] {
  return new Checker({ root: new Node() } as DtInfo, {}).names();
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
