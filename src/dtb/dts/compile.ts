/**
 * DTS → tree, as `dtc -I dts`: parse, process (phandles, references, deletions, symbols, fixups),
 * then the plain model for the writer.
 */
import { Lexer, type IncludeResolver, type SourceFile } from './lexer.js';
import { Parser, type DtInfo, type IncbinReader } from './parser.js';
import { processTree, type CheckOptions } from './checks.js';
import { Data, Node, Property, fillFullpaths } from './tree.js';
import { latin1ToBytes, bytesToLatin1, type Fdt, type FdtNode } from '../model.js';

export interface CompileOptions extends CheckOptions {
  /** -b: boot CPU id; by default the `reg` of the first /cpus child, as dtc guesses. */
  readonly bootCpuid?: number;
  /** -s: sort nodes and properties by name. */
  readonly sort?: boolean;
  /** Opens /include/ files. */
  readonly resolveInclude?: IncludeResolver;
  /** Reads /incbin/ files. */
  readonly readIncbin?: IncbinReader;
}

const noFiles = (name: string): never => {
  throw new Error(`Couldn't open "${name}": no file access`);
};

/** Parses DTS text (latin1: one char per byte) into dtc's processed live tree. */
export function parseDts(file: SourceFile, opts: CompileOptions = {}): DtInfo {
  const lx = new Lexer(file, opts.resolveInclude ?? noFiles);
  const dti = new Parser(lx, opts.readIncbin ?? noFiles).parse();
  fillFullpaths(dti.root, '');
  processTree(dti, opts);
  if (opts.sort) sortTree(dti);
  return dti;
}

/**
 * Compiles DTS source to the device tree model dtc would write.
 * @example
 * const fdt = compileDts({ name: 'x.dts', text: '/dts-v1/; / { model = "x"; };' });
 * encodeFdt(fdt);
 */
export function compileDts(file: SourceFile, opts: CompileOptions = {}): Fdt {
  return fdtOf(parseDts(file, opts), opts);
}

/** The blob model of a processed tree (what `-O dtb` writes). */
export function fdtOf(dti: DtInfo, opts: Pick<CompileOptions, 'bootCpuid'> = {}): Fdt {
  return {
    version: 17, lastCompVersion: 16,
    bootCpuidPhys: opts.bootCpuid ?? dti.bootCpuidPhys,
    reserve: dti.reserve.map((r) => ({ address: r.address, size: r.size })),
    root: toModel(dti.root),
  };
}

export function toModel(n: Node): FdtNode {
  return {
    name: n.name,
    props: n.props.filter((p) => !p.deleted).map((p) => ({ name: p.name, value: Uint8Array.from(p.val.val) })),
    children: n.children.filter((c) => !c.deleted).map(toModel),
  };
}

/** A DTB's tree as dtc's live tree (`-I dtb`): no labels, no markers; phandles come from the properties. */
export function fromModel(fdt: Fdt): DtInfo {
  const conv = (m: FdtNode): Node => {
    const n = new Node();
    n.name = m.name;
    n.props = m.props.map((p) => new Property(p.name, new Data(Array.from(p.value))));
    for (const c of m.children) {
      const cn = conv(c);
      cn.parent = n;
      n.children.push(cn);
    }
    return n;
  };
  return { plugin: false, reserve: fdt.reserve.map((r) => ({ ...r, labels: [] })), root: conv(fdt.root), bootCpuidPhys: fdt.bootCpuidPhys };
}

/** `dtc -I dtb`: the blob's tree as dtc's live tree, re-processed by dtc's checks (for `-O dts`: `dtsSource`). */
export function reprocessTree(fdt: Fdt, opts: CompileOptions = {}): DtInfo {
  const dti = fromModel(fdt);
  fillFullpaths(dti.root, '');
  processTree(dti, opts);
  if (opts.sort) sortTree(dti);
  return dti;
}

/** `dtc -I dtb -O dtb`: the blob's tree re-processed by dtc's checks (a correct `name` property is dropped). */
export function reprocessFdt(fdt: Fdt, opts: CompileOptions = {}): Fdt {
  const dti = reprocessTree(fdt, opts);
  return { ...fdt, bootCpuidPhys: opts.bootCpuid ?? fdt.bootCpuidPhys, reserve: dti.reserve.map((r) => ({ address: r.address, size: r.size })), root: toModel(dti.root) };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortTree(dti: DtInfo): void {
  dti.reserve.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.size < b.size ? -1 : a.size > b.size ? 1 : 0));
  const walk = (n: Node): void => {
    n.props.sort((a, b) => cmp(a.name, b.name));
    n.children.sort((a, b) => cmp(a.name, b.name));
    for (const c of n.children) walk(c);
  };
  walk(dti.root);
}

export { latin1ToBytes, bytesToLatin1 };
