import { FormatError } from './errors.js';

/** Largest buffer a whole-image decoder allocates for one blob unless told otherwise. */
export const DEFAULT_MAX_ALLOC = 2 ** 31 - 1;

/**
 * Checks a length or count read from the input before anything is allocated or looped over.
 * Returns `n` so it can be used inline: `new Uint8Array(limit(...))`.
 */
export function limit(n: number, max: number, what: string, format: string, offset: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > max)
    throw new FormatError(format, 'LIMIT', offset, `Cannot accept ${what}: ${n} exceeds the limit of ${max}`);
  return n;
}

/** Bytes needed to round `pos` up to a multiple of `align`. Uses %, not masks, so it holds past 2 GiB. */
export function padding(pos: number, align: number): number {
  return (align - (pos % align)) % align;
}

/** `n` rounded up to a multiple of `align`. */
export function alignUp(n: number, align: number): number {
  return n + padding(n, align);
}
