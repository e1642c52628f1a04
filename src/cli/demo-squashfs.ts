/**
 * The squashfs part of `npm run demo`: packs the bundled samples/squashfs/rootfs into two images
 * the way OpenWrt and NixOS build theirs, reads each back and returns a short listing.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileAccess } from '../bytes/random.js';
import { withOutputFile } from '../bytes/sink.js';
import { applyPseudo } from '../squashfs/pseudo.js';
import { openSquashfs } from '../squashfs/read.js';
import { longListing } from '../squashfs/text.js';
import { scanSources, type SourceInode } from '../squashfs/tree.js';
import { writeSquashfs, type WriteOptions } from '../squashfs/write.js';

/** 2023-11-14T22:13:20Z: git keeps no times, so every inode gets this one. */
const TIME = 1_700_000_000;

function normalize(n: SourceInode, seen = new Set<SourceInode>()): void {
  if (seen.has(n)) return;
  seen.add(n);
  n.uid = n.gid = 0;
  n.mtime = TIME;
  if (n.kind === 'dir') n.mode = 0o755;
  else if (n.kind === 'file') n.mode = n.mode & 0o111 ? 0o755 : 0o644;
  for (const e of n.entries ?? []) normalize(e.inode, seen);
}

export async function buildSamples(out: string, samples: string): Promise<{ path: string; what: string; listing: string }[]> {
  await mkdir(out, { recursive: true });
  const images: [string, string, WriteOptions, string[]][] = [
    [
      'rootfs-openwrt.sqfs',
      'squashfs, OpenWrt style: xz with the ARM BCJ filter, 256 KiB blocks, -nopad, /dev/console from a pseudo definition',
      { compressor: 'xz', blockSize: 262_144, compressorOptions: { filters: 0x8 }, pad: false },
      ['/dev d 755 0 0', '/dev/console c 600 0 0 5 1'],
    ],
    ['rootfs-nixos.sqfs', 'squashfs, NixOS make-squashfs style: gzip, 1 MiB blocks, all files owned by root', { compressor: 'gzip', blockSize: 1_048_576 }, []],
  ];
  const result: { path: string; what: string; listing: string }[] = [];
  for (const [name, what, opts, pseudo] of images) {
    const root = await scanSources([join(samples, 'squashfs/rootfs')], { xattrs: false });
    normalize(root);
    for (const p of pseudo) applyPseudo(root, p, TIME);
    const path = join(out, name);
    await withOutputFile(path, (sink) => writeSquashfs(sink, root, { ...opts, mkfsTime: TIME }));
    const fs = await openSquashfs(await fileAccess(path, 'squashfs'));
    try {
      const lines: string[] = [];
      for await (const l of longListing(fs)) lines.push(l);
      result.push({ path, what, listing: `${fs.superblock.compression}, ${fs.superblock.blockSize}-byte blocks, ${fs.superblock.inodes} inodes, ${fs.superblock.bytesUsed} bytes\n${lines.join('\n')}` });
    } finally {
      await fs.close();
    }
  }
  return result;
}
