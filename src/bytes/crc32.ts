import * as zlib from 'node:zlib';
import CRC32 from 'crc-32';

type Crc32Fn = (data: Uint8Array, value?: number) => number;

/** CRC-32 (IEEE 802.3, as zlib and U-Boot) in pure JS: the fallback where node:zlib has no crc32. */
export function crc32Js(data: Uint8Array, value = 0): number {
  return CRC32.buf(data, value) >>> 0;
}

const native: Crc32Fn | undefined = (zlib as { crc32?: Crc32Fn }).crc32;

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before it). */
export const crc32: Crc32Fn = native ? (data, value = 0) => native(data, value) : crc32Js;

/** Whether the native node:zlib crc32 is in use (false on Node < 20.15 and non-Node runtimes). */
export const crc32IsNative = native !== undefined;
