/**
 * One .xz stream with full control of the LZMA2 encoder, for squashfs blocks: preset with the
 * `extreme` flag, lc/lp/pb (OpenWrt's patched mksquashfs `-Xpreset -Xe -Xlc -Xlp -Xpb`), dictionary
 * size and a BCJ filter, always with a CRC32 check (the kernel's xz_dec needs it). xz.ts exposes the
 * common subset through the Codec interface; this module adds the rest without changing it.
 */
import { collect } from '../bytes/source.js';
import { checkDictSize, encodeWith, lzmaNative, open, presetOptions } from './liblzma.js';
import type { XzBcj } from './types.js';

export interface XzBlockOptions {
  /** Preset 0–9 (default 6). */
  level?: number;
  /** LZMA_PRESET_EXTREME (`xz -e`). */
  extreme?: boolean;
  dictSize?: number;
  lc?: number;
  lp?: number;
  pb?: number;
  bcj?: XzBcj;
}

const BCJ: Readonly<Record<XzBcj, string>> = {
  x86: 'LZMA_FILTER_X86',
  powerpc: 'LZMA_FILTER_POWERPC',
  ia64: 'LZMA_FILTER_IA64',
  arm: 'LZMA_FILTER_ARM',
  armthumb: 'LZMA_FILTER_ARMTHUMB',
  sparc: 'LZMA_FILTER_SPARC',
};

const bits = (v: number | undefined, fallback: number, what: string): number => {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > 4) throw new RangeError(`Cannot encode: ${what} ${String(v)} is outside 0..4`);
  return n;
};

/** Compresses `input` into one .xz stream (CRC32 check, one LZMA2 block). */
export async function encodeXzBlock(input: Uint8Array, o: XzBlockOptions = {}): Promise<Uint8Array> {
  const level = o.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`Cannot encode: level ${String(level)} is outside 0..9`);
  const lzma2 = presetOptions(level);
  if (o.extreme) {
    // liblzma lzma_lzma_preset() with LZMA_PRESET_EXTREME
    lzma2.mode = lzmaNative().MODE_NORMAL;
    lzma2.mf = lzmaNative().MF_BT4;
    lzma2.niceLen = level === 3 || level === 5 ? 192 : 273;
    lzma2.depth = 512;
  }
  if (o.dictSize !== undefined) lzma2.dictSize = checkDictSize(o.dictSize);
  lzma2.lc = bits(o.lc, lzma2.lc, 'lc');
  lzma2.lp = bits(o.lp, lzma2.lp, 'lp');
  lzma2.pb = bits(o.pb, lzma2.pb, 'pb');
  if (lzma2.lc + lzma2.lp > 4) throw new RangeError('Cannot encode: lc + lp exceeds 4');
  if (o.bcj !== undefined && !Object.hasOwn(BCJ, o.bcj)) throw new RangeError(`Cannot encode: unknown BCJ filter "${String(o.bcj)}"`);
  const filters = [...(o.bcj ? [{ id: BCJ[o.bcj] }] : []), { id: 'LZMA_FILTER_LZMA2', options: lzma2 }];
  return collect(encodeWith(open((s) => s.streamEncoder_(filters, lzmaNative().CHECK_CRC32)), [input]));
}
