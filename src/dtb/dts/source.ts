/**
 * `dtc -O dts`: dtc 1.6.1's treesource.c. Values are written back as their source wrote them where
 * the parser left type markers (strings, <cells>, /bits/ arrays, [bytes], labels inside), and by
 * dtc's guess otherwise (a blob's values): strings, then 32-bit cells, then bytes. Returns latin1
 * text (one character per byte).
 */
import type { DtInfo } from './parser.js';
import type { Marker, Node, Property } from './tree.js';

const isPrint = (c: number): boolean => c >= 0x20 && c < 0x7f;
/** treesource.c isstring. */
const isStringByte = (c: number): boolean => isPrint(c) || c === 0 || (c >= 7 && c <= 13);
const hasType = (m: Marker): boolean => m.type.startsWith('TYPE_') && m.type !== 'TYPE_NONE';
const hex = (v: bigint | number, pad: number): string => v.toString(16).padStart(pad, '0');

const ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\', 0x22: '\\"', 0: '\\0' };

function writeString(v: number[], from: number, len: number): string {
  if (!len) return '';
  let s = '"';
  for (let i = from; i < from + len - 1; i++) {
    const c = v[i]!;
    // printf("\\x%02" PRIx8, c) with a signed char: bytes from 0x80 print sign-extended (\xffffff80)
    s += ESCAPES[c] ?? (isPrint(c) ? String.fromCharCode(c) : `\\x${hex(c < 0x80 ? c : 0xffffff00 + c, 2)}`);
  }
  return `${s}"`;
}

function writeInts(v: number[], from: number, len: number, width: number): string {
  const out: string[] = [];
  for (let p = from; p + width <= from + len; p += width) {
    let x = 0n;
    for (let k = 0; k < width; k++) x = (x << 8n) | BigInt(v[p + k]!);
    out.push(width === 1 ? hex(x, 2) : `0x${hex(x, 2)}`);
  }
  return out.join(' ');
}

/** treesource.c guess_value_type. */
function guessType(p: Property): Marker['type'] {
  const v = p.val.val, len = v.length;
  let notString = 0, nul = 0, notStringLabel = 0, notCellLabel = 0;
  for (const c of v) {
    if (!isStringByte(c)) notString++;
    if (c === 0) nul++;
  }
  for (const m of p.val.markers) {
    if (m.type !== 'LABEL') continue;
    if (m.offset > 0 && v[m.offset - 1] !== 0) notStringLabel++;
    if (m.offset % 4 !== 0) notCellLabel++;
  }
  if (v[len - 1] === 0 && notString === 0 && nul <= len - nul && notStringLabel === 0) return 'TYPE_STRING';
  if (len % 4 === 0 && notCellLabel === 0) return 'TYPE_UINT32';
  return 'TYPE_UINT8';
}

const START: Partial<Record<Marker['type'], string>> = { TYPE_UINT8: '[', TYPE_UINT16: '/bits/ 16 <', TYPE_UINT32: '<', TYPE_UINT64: '/bits/ 64 <', TYPE_STRING: '' };
const END: Partial<Record<Marker['type'], string>> = { TYPE_UINT8: ']', TYPE_UINT16: '>', TYPE_UINT32: '>', TYPE_UINT64: '>', TYPE_STRING: '' };
const WIDTH: Partial<Record<Marker['type'], number>> = { TYPE_UINT16: 2, TYPE_UINT32: 4, TYPE_UINT64: 8 };

/** treesource.c write_propval: ` = …;` or `;`, and the line end. */
function writeValue(p: Property): string {
  const v = p.val.val, len = v.length;
  if (len === 0) return ';\n';
  let s = ' =';
  let ms: readonly Marker[] = p.val.markers;
  if (!ms.some(hasType)) ms = [{ type: guessType(p), offset: 0, ref: '' }, ...ms];
  // nextTyped[i]: the first marker after i that carries a type (type_marker_length), found in one pass
  const nextTyped: (Marker | undefined)[] = new Array(ms.length);
  for (let i = ms.length - 1, after: Marker | undefined; i >= 0; i--) {
    nextTyped[i] = after;
    if (hasType(ms[i]!)) after = ms[i];
  }
  let emit: Marker['type'] = 'TYPE_NONE';
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i]!;
    const chunk = (i + 1 < ms.length ? ms[i + 1]!.offset : len) - m.offset;
    const next = nextTyped[i];
    const data = next ? next.offset - m.offset || len - m.offset : len - m.offset;
    if (hasType(m)) {
      emit = m.type;
      s += ` ${START[emit]}`;
    } else if (m.type === 'LABEL') s += ` ${m.ref}:`;
    else if (m.offset) s += ' ';
    if (emit === 'TYPE_NONE') continue;
    s += emit === 'TYPE_STRING' ? writeString(v, m.offset, chunk) : writeInts(v, m.offset, chunk, WIDTH[emit] ?? 1);
    if (chunk === data) {
      s += `${END[emit]}${m.offset + chunk === len ? '' : ','}`;
      emit = 'TYPE_NONE';
    }
  }
  return `${s};\n`;
}

function labels(ls: readonly (string | { label: string; deleted: boolean })[]): string {
  return ls.map((l) => (typeof l === 'string' ? `${l}: ` : l.deleted ? '' : `${l.label}: `)).join('');
}

/**
 * The DTS text `dtc -O dts` writes for a processed tree (latin1).
 * @example
 * dtsSource(parseDts({ name: 'x.dts', text }));
 */
export function dtsSource(dti: DtInfo): string {
  const out: string[] = ['/dts-v1/;\n\n'];
  for (const r of dti.reserve) out.push(`${labels(r.labels)}/memreserve/\t0x${hex(r.address, 16)} 0x${hex(r.size, 16)};\n`);
  // iterative: a blob's tree may be as deep as its reader allows
  const stack: { n: Node; level: number; i: number }[] = [{ n: dti.root, level: 0, i: -1 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const { n, level } = top;
    const ind = '\t'.repeat(level);
    if (top.i === -1) {
      out.push(`${ind}${labels(n.labels)}${n.name ? n.name : '/'} {\n`);
      for (const p of n.props) if (!p.deleted) out.push(`${ind}\t${labels(p.labels)}${p.name}${writeValue(p)}`);
      top.i = 0;
    }
    const live = n.children;
    while (top.i < live.length && live[top.i]!.deleted) top.i++;
    if (top.i < live.length) {
      out.push('\n');
      stack.push({ n: live[top.i++]!, level: level + 1, i: -1 });
    } else {
      out.push(`${ind}};\n`);
      stack.pop();
    }
  }
  return out.join('');
}
