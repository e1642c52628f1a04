/**
 * Images made by hand, for what the writer never makes: huge sparse block lists, listings that go
 * wrong far into a huge size. Callers append inodes and listings to the two tables; `assemble`
 * adds the id table and the superblock, with `data` (if any) as the data area.
 */
import { blockCodec, type BlockCodec } from '../../src/squashfs/compressor.js';
import { FLAG, SUPERBLOCK_SIZE, type MetaRef } from '../../src/squashfs/layout.js';
import { MetaWriter } from '../../src/squashfs/meta.js';
import { encodeSuperblock } from '../../src/squashfs/super.js';
import { encodeLookupTable } from '../../src/squashfs/table.js';
import { TIME } from './fixture.js';

/** The fields of a hand-made inode that its kind does not set. */
export const INODE_DEFAULTS = {
  mode: 0o644, uidIndex: 0, gidIndex: 0, mtime: TIME, nlink: 1, xattr: undefined, startBlock: 0, offset: 0, size: 0, parent: 0, index: [],
  fragment: undefined, fragmentOffset: 0, blocks: [], sparse: 0, target: undefined, rdev: 0,
};

export class HandImage {
  readonly codec: BlockCodec;
  readonly inodes: MetaWriter;
  readonly dirs: MetaWriter;
  constructor(readonly blockSize: number) {
    this.codec = blockCodec('gzip', {}, blockSize);
    this.inodes = new MetaWriter(this.codec, false);
    this.dirs = new MetaWriter(this.codec, false);
  }

  /** Appends `n` zero bytes to a table, a MiB at a time. */
  static async zeros(table: MetaWriter, n: number): Promise<void> {
    const zeros = new Uint8Array(1 << 20);
    for (let done = 0; done < n; done += zeros.length) await table.append(zeros.subarray(0, Math.min(zeros.length, n - done)));
  }

  async assemble(rootInode: MetaRef, inodeCount: number, data: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    const it = await this.inodes.finish(), dt = await this.dirs.finish();
    const inodeTableStart = SUPERBLOCK_SIZE + data.length, directoryTableStart = inodeTableStart + it.size;
    const ids = await encodeLookupTable(new Uint8Array(4), directoryTableStart + dt.size, this.codec, false);
    const sb = encodeSuperblock({
      inodes: inodeCount, mkfsTime: TIME, blockSize: this.blockSize, blockLog: Math.log2(this.blockSize), fragments: 0, compression: 'gzip',
      flags: FLAG.NO_FRAGMENTS | FLAG.NO_XATTRS, noIds: 1, major: 4, minor: 0, rootInode, bytesUsed: directoryTableStart + dt.size + ids.size,
      idTableStart: ids.indexAt, xattrIdTableStart: undefined, inodeTableStart, directoryTableStart, fragmentTableStart: undefined, lookupTableStart: undefined,
    });
    return Buffer.concat([sb, data, ...it.blocks, ...dt.blocks, ...ids.chunks]);
  }
}
