/**
 * The parts of liblzma's presets that need no binding: the dictionary size of each level and the
 * limits of the options, for liblzma.ts (lzma-native) and for lzma.ts's native path alike.
 */

const DICT_POW2 = [18, 20, 21, 22, 22, 23, 23, 24, 25, 26] as const;

/** The dictionary size of preset `level` (0–9), as lzma_lzma_preset sets it. */
export const presetDictSize = (level: number): number => 2 ** DICT_POW2[level]!;

/** Validates a dictionary size option (LZMA_DICT_SIZE_MIN … 1.5 GiB, the encoder's maximum). */
export function checkDictSize(n: number): number {
  if (!Number.isInteger(n) || n < 4096 || n > 1.5 * 2 ** 30) throw new RangeError(`Cannot encode: dictSize ${n} is outside 4096..1.5 GiB`);
  return n;
}
