/**
 * Fragment table: 16-byte struct squashfs_fragment_entry {u64 start_block, u32 size, u32 unused},
 * 512 per metadata block. `size` bit 24 set = fragment block stored uncompressed.
 */
import type { ByteCursor } from '../bytes/cursor.js';
import { FRAGMENT_ENTRY_SIZE } from './layout.js';

export interface FragmentEntry {
  /** Absolute offset of the fragment block. */
  readonly start: number;
  /** Size word: bytes on disk, bit 24 = stored uncompressed. */
  readonly size: number;
}

export function decodeFragmentEntry(c: ByteCursor): FragmentEntry {
  const start = c.u64le('fragment start');
  const size = c.u32le('fragment size');
  c.u32le('fragment unused');
  return { start, size };
}

export function encodeFragmentEntry(v: FragmentEntry, out: Uint8Array, at: number): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(at, v.start % 0x1_0000_0000, true);
  dv.setUint32(at + 4, Math.floor(v.start / 0x1_0000_0000), true);
  dv.setUint32(at + 8, v.size, true);
  dv.setUint32(at + 12, 0, true);
}

export const encodeFragmentTable = (entries: readonly FragmentEntry[]): Uint8Array => {
  const out = new Uint8Array(entries.length * FRAGMENT_ENTRY_SIZE);
  entries.forEach((e, i) => encodeFragmentEntry(e, out, i * FRAGMENT_ENTRY_SIZE));
  return out;
};
