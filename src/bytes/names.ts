/**
 * Names as text, losslessly. File names are bytes, and the kernel, GNU cpio and unsquashfs keep them
 * as they are. Their text here is their UTF-8, where each byte that is not part of valid UTF-8
 * becomes the lone surrogate U+DC00 + byte (U+DC80..U+DCFF, PEP 383 "surrogateescape"). Valid UTF-8
 * never decodes to a lone surrogate, so distinct names stay distinct strings and `encodeName` gives
 * the bytes back.
 */
import { concat } from './source.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Length of the valid UTF-8 sequence at `b[i]` (Unicode Table 3-7), or 0. */
function utf8Length(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) return cont(1, c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) && cont(2) ? 3 : 0;
  if (c >= 0xf0 && c <= 0xf4) return cont(1, c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** A name's bytes as text: UTF-8, with U+DC00 + byte for each byte outside valid UTF-8. */
export function decodeName(b: Uint8Array): string {
  try {
    return strictUtf8.decode(b);
  } catch {
    let s = '';
    for (let i = 0; i < b.length; ) {
      const n = utf8Length(b, i);
      s += n === 0 ? String.fromCharCode(0xdc00 + b[i]!) : strictUtf8.decode(b.subarray(i, i + n));
      i += n === 0 ? 1 : n;
    }
    return s;
  }
}

/** The inverse of `decodeName`: UTF-8, with each lone U+DC80..U+DCFF written as the byte it stands for. */
export function encodeName(name: string): Uint8Array {
  if (!/[\udc80-\udcff]/.test(name)) return utf8Encoder.encode(name);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < name.length && (name.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++; // a surrogate pair: one character, not an escape
      continue;
    }
    if (c < 0xdc80 || c > 0xdcff) continue;
    parts.push(utf8Encoder.encode(name.slice(from, i)), Uint8Array.of(c - 0xdc00));
    from = i + 1;
  }
  parts.push(utf8Encoder.encode(name.slice(from)));
  return concat(parts);
}

/**
 * A path for the host's file calls, kept as a byte string (one char per byte, 'latin1'), so that a
 * name reaches the host exactly as stored whatever its encoding.
 */
export type HostPath = string;
/** The bytes of a host path, for the fs calls. */
export const hostBuffer = (h: HostPath): Buffer => Buffer.from(h, 'latin1');
/** A host path as text, for messages. */
export const hostShown = (h: HostPath): string => hostBuffer(h).toString();
/** Stored name bytes as a host path. */
export const hostFromBytes = (name: Uint8Array): HostPath => Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');
/** Text (its UTF-8) as a host path. */
export const hostFromText = (text: string): HostPath => Buffer.from(text).toString('latin1');
