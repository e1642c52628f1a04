import * as zlib from 'node:zlib';
import CRC32 from 'crc-32';
import { nativeCodecs } from '../codec/native.js';

type Crc32Fn = (data: Uint8Array, value?: number) => number;

/** CRC-32 (IEEE 802.3, as zlib and U-Boot) in pure JS: the fallback where node:zlib has no crc32. */
export function crc32Js(data: Uint8Array, value = 0): number {
  return CRC32.buf(data, value) >>> 0;
}

const native: Crc32Fn | undefined = (zlib as { crc32?: Crc32Fn }).crc32;

/**
 * libdeflate's crc32 through the native addon (carry-less multiplication: 64 MiB in ~9 ms here,
 * node:zlib's in ~30 ms) takes over once this many bytes were summed in chunks of at least
 * LARGE_CHUNK: loading the addon costs ~3 ms, which only large inputs repay.
 */
const ADDON_AFTER = 8 << 20;
const LARGE_CHUNK = 64 << 10;
let summed = 0;
let addon: Crc32Fn | null | undefined;

/** libdeflate's crc32 when the addon has it, else undefined (loads the addon). */
export function crc32Addon(): Crc32Fn | undefined {
  if (addon === undefined) addon = nativeCodecs()?.crc32 ?? null;
  return addon ?? undefined;
}

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before it). */
export const crc32: Crc32Fn = (data, value = 0) => {
  // no bytes: the CRC so far. node:zlib gives 0 for an empty array whose buffer was materialized
  // (zlib's crc32(crc, NULL, 0) is "the initial value"), which would restart a running CRC
  if (data.length === 0) return value >>> 0;
  if (data.length >= LARGE_CHUNK && (summed += data.length) > ADDON_AFTER) {
    const f = crc32Addon();
    if (f) return f(data, value);
  }
  return native ? native(data, value) : crc32Js(data, value);
};

/** Whether the native node:zlib crc32 is in use (false on Node < 20.15 and non-Node runtimes). */
export const crc32IsNative = native !== undefined;
