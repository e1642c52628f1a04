/**
 * Export (NFS lookup) table: u64 inode references indexed by inode number - 1, 1024 per metadata
 * block. Written by mksquashfs unless -no-exports.
 */
import { EXPORT_ENTRY_SIZE, refToNumber, type MetaRef } from './layout.js';

export function encodeExportTable(refs: readonly (MetaRef | undefined)[]): Uint8Array {
  const out = new Uint8Array(refs.length * EXPORT_ENTRY_SIZE);
  const dv = new DataView(out.buffer);
  refs.forEach((r, i) => {
    const n = r ? refToNumber(r) : 0;
    dv.setUint32(i * 8, n % 0x1_0000_0000, true);
    dv.setUint32(i * 8 + 4, Math.floor(n / 0x1_0000_0000), true);
  });
  return out;
}
