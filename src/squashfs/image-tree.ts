/**
 * An opened image as a writer input tree: file contents stream from the image on demand, hard
 * links share one SourceInode, and the sparse accounting is carried over so that writing the tree
 * with the image's own options reproduces it (the golden test checks this byte for byte).
 * Part 2's append starts from here.
 */
import type { StreamPayload } from '../bytes/payload.js';
import type { SquashfsInode } from './inode.js';
import { decodeRdev, MAX_DEPTH } from './layout.js';
import type { Squashfs } from './read.js';
import type { SourceInode } from './tree.js';

const td = new TextDecoder();

/** `keepData`: files also carry {@link SourceInode.stored}, for appending without rewriting their data. */
export async function imageTree(fs: Squashfs, o: { keepData?: boolean } = {}): Promise<SourceInode> {
  await fs.preload(); // every inode and listing is read: one read per table, not one per block
  const byNumber = new Map<number, SourceInode>();
  const convert = async (inode: SquashfsInode, depth: number): Promise<SourceInode> => {
    if (depth > MAX_DEPTH) throw new RangeError(`Cannot convert image: directories nest deeper than ${MAX_DEPTH}`);
    const known = inode.kind !== 'dir' ? byNumber.get(inode.inodeNumber) : undefined;
    if (known) return known;
    const st = await fs.stat(inode);
    const n: SourceInode = { kind: inode.kind, mode: inode.mode, uid: st.uid, gid: st.gid, mtime: inode.mtime };
    const xs = await fs.xattrs(inode);
    if (xs.length) n.xattrs = xs;
    switch (inode.kind) {
      case 'dir':
        n.entries = [];
        for (const e of await fs.readdir(inode)) n.entries.push({ name: td.decode(e.name), inode: await convert(await fs.inode(e.inode), depth + 1) });
        break;
      case 'file': {
        const content: StreamPayload = { size: inode.size, chunks: () => fs.createReadStream(inode) };
        n.content = content;
        n.size = inode.size;
        // holes the image does not report came from a file that was not sparse on its host
        if (inode.sparse === 0) n.allocated = inode.size;
        if (o.keepData) n.stored = { startBlock: inode.startBlock, blocks: await fs.blockWords(inode), fragment: inode.fragment, fragmentOffset: inode.fragmentOffset, sparse: inode.sparse };
        break;
      }
      case 'symlink':
        n.target = td.decode(inode.target);
        break;
      case 'blockdev':
      case 'chardev':
        Object.assign(n, decodeRdev(inode.rdev));
        break;
    }
    if (inode.kind !== 'dir') byNumber.set(inode.inodeNumber, n);
    return n;
  };
  return convert(await fs.root(), 0);
}
