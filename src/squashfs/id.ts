/**
 * Id table: u32 uid/gid values, 2048 per metadata block. Inodes store u16 indexes into it, so an
 * image holds at most 65536 distinct ids. mksquashfs adds ids in the order inodes are written
 * (uid, then gid, of each inode).
 */
import { ID_ENTRY_SIZE } from './layout.js';

/** Assigns table indexes to ids in first-use order. */
export class IdTable {
  readonly ids: number[] = [];
  readonly #index = new Map<number, number>();
  indexOf(id: number): number {
    let i = this.#index.get(id);
    if (i === undefined) {
      if (this.ids.length === 0x1_0000) throw new RangeError('Cannot add id: an image holds at most 65536 distinct uids and gids');
      i = this.ids.length;
      this.ids.push(id);
      this.#index.set(id, i);
    }
    return i;
  }
  encode(): Uint8Array {
    const out = new Uint8Array(this.ids.length * ID_ENTRY_SIZE);
    const dv = new DataView(out.buffer);
    this.ids.forEach((id, i) => dv.setUint32(i * ID_ENTRY_SIZE, id, true));
    return out;
  }
}
