/**
 * Text forms of a blob: `formatDts` (decompiled source that recompiles to the same bytes) and
 * `formatDump` (what dtc 1.6.1's fdtdump prints).
 */
import { bytesToLatin1, type Fdt, type FdtNode } from './model.js';
import { FdtView } from './read.js';
import { FDT_BEGIN_NODE, FDT_END_NODE, FDT_NOP, FDT_PROP } from './layout.js';

const hex = (v: number | bigint): string => '0x' + v.toString(16);

/** Printable for the decompiler: ASCII 0x20–0x7e and the escapes dtc reads back. */
function asStringList(v: Uint8Array): string[] | undefined {
  if (v.length === 0 || v[v.length - 1] !== 0) return undefined;
  const out: string[] = [];
  let s = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === 0) {
      if (s === '' ) return undefined;
      out.push(s);
      s = '';
    } else if (c >= 0x20 && c < 0x7f) s += c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : String.fromCharCode(c);
    else if (c === 9) s += '\\t';
    else if (c === 10) s += '\\n';
    else if (c === 13) s += '\\r';
    else return undefined;
  }
  return out;
}

/** One property value in DTS syntax: strings "a", "b" (never "a\0b", which dtc 1.6 misreads), <cells> or [bytes]. */
export function formatValue(v: Uint8Array): string {
  const strs = asStringList(v);
  if (strs) return strs.map((s) => `"${s}"`).join(', ');
  if (v.length % 4 === 0) {
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const cells: string[] = [];
    for (let i = 0; i < v.length; i += 4) cells.push(hex(dv.getUint32(i)));
    return `<${cells.join(' ')}>`;
  }
  return `[${Array.from(v, (b) => b.toString(16).padStart(2, '0')).join(' ')}]`;
}

/** A name as DTS: names the lexer would not read back as one token get dtc's backslash escape. */
function formatName(name: string): string {
  return /^[a-zA-Z0-9,._+*#?@-]+$/.test(name) ? name : `\\${name}`;
}

/**
 * Decompiles a tree to DTS. Recompiling with `-b <bootCpuidPhys>` gives the same blob.
 * @example
 * formatDts(decodeFdt(bytes));
 */
export function formatDts(fdt: Fdt): string {
  const out: string[] = ['/dts-v1/;\n\n'];
  for (const r of fdt.reserve) out.push(`/memreserve/\t${hex(r.address)} ${hex(r.size)};\n`);
  if (fdt.reserve.length) out.push('\n');
  const node = (n: FdtNode, depth: number): void => {
    const ind = '\t'.repeat(depth);
    out.push(`${ind}${depth === 0 ? '/' : formatName(n.name)} {\n`);
    for (const p of n.props) out.push(p.value.length ? `${ind}\t${formatName(p.name)} = ${formatValue(p.value)};\n` : `${ind}\t${formatName(p.name)};\n`);
    n.children.forEach((c, i) => {
      if (i || n.props.length) out.push('\n');
      node(c, depth + 1);
    });
    out.push(`${ind}};\n`);
  };
  node(fdt.root, 0);
  return out.join('');
}

/** fdtdump's value format (util.c utilfdt_print_data). */
function dumpValue(v: Uint8Array): string {
  if (v.length === 0) return '';
  if (isPrintableString(v)) {
    const parts: string[] = [];
    let s = 0;
    while (s < v.length) {
      const e = v.indexOf(0, s);
      parts.push(`"${bytesToLatin1(v.subarray(s, e))}"`);
      s = e + 1;
    }
    return ` = ${parts.join(', ')}`;
  }
  if (v.length % 4 === 0) {
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const cells: string[] = [];
    for (let i = 0; i < v.length; i += 4) cells.push('0x' + dv.getUint32(i).toString(16).padStart(8, '0'));
    return ` = <${cells.join(' ')}>`;
  }
  return ` = [${Array.from(v, (b) => b.toString(16).padStart(2, '0')).join(' ')}]`;
}

/** util_is_printable_string: NUL-terminated, no empty segment, isprint() bytes. */
function isPrintableString(v: Uint8Array): boolean {
  if (v.length === 0 || v[v.length - 1] !== 0) return false;
  let s = 0;
  while (s < v.length) {
    const ss = s;
    while (s < v.length && v[s] !== 0 && v[s]! >= 0x20 && v[s]! < 0x7f) s++;
    if (v[s] !== 0 || s === ss) return false;
    s++;
  }
  return true;
}

/** The text `fdtdump` prints for a blob (header comments, memreserves, every token). */
export function formatDump(bytes: Uint8Array): string {
  return Array.from(dumpLines(bytes)).join('');
}

/**
 * `formatDump` a line at a time, for output too large for one string: fdtdump indents by depth, so
 * a small blob of many END_NODE (or nested BEGIN_NODE) tokens prints hundreds of megabytes.
 */
export function* dumpLines(bytes: Uint8Array): Generator<string> {
  const v = new FdtView(bytes);
  const h = v.header;
  yield '/dts-v1/;\n';
  yield `// magic:\t\t0x${h.magic.toString(16)}\n`;
  yield `// totalsize:\t\t0x${h.totalSize.toString(16)} (${h.totalSize})\n`;
  yield `// off_dt_struct:\t0x${h.offDtStruct.toString(16)}\n`;
  yield `// off_dt_strings:\t0x${h.offDtStrings.toString(16)}\n`;
  yield `// off_mem_rsvmap:\t0x${h.offMemRsvmap.toString(16)}\n`;
  yield `// version:\t\t${h.version}\n`;
  yield `// last_comp_version:\t${h.lastCompVersion}\n`;
  yield `// boot_cpuid_phys:\t0x${h.bootCpuidPhys.toString(16)}\n`;
  yield `// size_dt_strings:\t0x${h.sizeDtStrings.toString(16)}\n`;
  if (h.version >= 17) yield `// size_dt_struct:\t0x${h.sizeDtStruct.toString(16)}\n`;
  yield '\n';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = h.offMemRsvmap; at + 16 <= h.totalSize; at += 16) {
    const a = dv.getBigUint64(at), s = dv.getBigUint64(at + 8);
    if (a === 0n && s === 0n) break;
    yield `/memreserve/ ${a ? hex(a) : '0'} ${s ? hex(s) : '0'};\n`;
  }
  // the blob is read through once first, so that a damaged one is an error before any output
  for (let t = v.reader.token(h.offDtStruct); t.kind === FDT_BEGIN_NODE || t.kind === FDT_END_NODE || t.kind === FDT_NOP || t.kind === FDT_PROP; t = v.reader.token(t.next))
    if (t.kind === FDT_PROP) v.reader.string(t.nameOff, t.at);
  let depth = 0;
  // printf("%*s", depth * 4, ""): a negative width (END_NODE before its BEGIN_NODE) pads as much, left-justified
  const ind = (): string => ' '.repeat(Math.abs(depth) * 4);
  for (let t = v.reader.token(h.offDtStruct); ; t = v.reader.token(t.next)) {
    if (t.kind === FDT_BEGIN_NODE) {
      const name = bytesToLatin1(t.name);
      yield `${ind()}${name === '' ? '/' : name} {\n`;
      depth++;
    } else if (t.kind === FDT_END_NODE) {
      depth--;
      yield `${ind()}};\n`;
    } else if (t.kind === FDT_NOP) yield `${ind()}// [NOP]\n`;
    else if (t.kind === FDT_PROP) yield `${ind()}${v.reader.string(t.nameOff, t.at)}${dumpValue(t.value)};\n`;
    else break;
  }
}
