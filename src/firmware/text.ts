/** Text for people: the budget table `imgkit firmware` prints and the part list of `firmware info`. */
import { formatSize } from './layout.js';
import type { FirmwareLayout, FirmwarePart } from './read.js';
import type { Budget } from './write.js';

const hex = (n: number, w = 8) => `0x${n.toString(16).padStart(w, '0')}`;
const num = (n: number) => String(n).padStart(10);

/**
 * The budget: one line per part (offset, size, fill after it, room, left), then the image size and
 * what the flash has left after the erase-block-aligned rootfs.
 */
export function formatBudget(b: Budget): string {
  const lines = [`part        offset          size   padding        room        left   (erase block ${formatSize(b.eraseBlock)})`];
  for (const p of b.parts)
    lines.push(`${p.name.padEnd(8)} ${hex(p.offset)} ${num(p.size)} ${num(p.padding)}  ${p.room === undefined ? '         -' : num(p.room)}  ${p.left === undefined ? '         -' : num(p.left)}`);
  lines.push(`image    ${' '.repeat(10)} ${num(b.imageSize)}`);
  if (b.limit !== undefined)
    lines.push(`budget   ${' '.repeat(10)} ${num(b.limit)} (${formatSize(b.limit)}): ${(b.left ?? 0) >= 0
      ? `${b.left} bytes left after the rootfs (${Math.floor((b.left ?? 0) / b.eraseBlock)} erase blocks for rootfs_data)`
      : `${-(b.left ?? 0)} bytes over (erase-block-aligned end)`}`);
  return `${lines.join('\n')}\n`;
}

function describe(p: FirmwarePart): string {
  switch (p.kind) {
    case 'uimage':
      return `uImage "${p.imageName}" ${p.os} ${p.arch} ${p.type} (${p.comp}), load ${hex(p.load)} entry ${hex(p.entry)}, header CRC OK${p.dataCrcOk ? ', data CRC OK' : ''}`;
    case 'fit':
      return 'FIT (flattened image tree)';
    case 'squashfs': {
      const s = p.superblock;
      return `squashfs ${s.major}.${s.minor} ${s.compression}, ${formatSize(s.blockSize)} blocks, ${s.inodes} inodes, aligned to ${formatSize(p.alignment)}`;
    }
    case 'jffs2-eof':
      return 'JFFS2 EOF marker (deadc0de): empty overlay, formatted on first boot';
    case 'fill':
      return `fill 0x${p.fill!.toString(16).padStart(2, '0')}`;
    case 'data':
      return 'data (neither fill nor a known part)';
  }
}

/** One line per part: offset, end, size, name and what it is. */
export function formatLayout(l: FirmwareLayout, file = 'image'): string {
  const lines = [`${file}: ${l.size} bytes (${formatSize(l.size)})`];
  for (const p of l.parts) lines.push(`  ${hex(p.offset)}-${hex(p.offset + p.size)} ${num(p.size)}  ${p.name.padEnd(11)} ${describe(p)}`);
  return `${lines.join('\n')}\n`;
}

/** `--json`: the layout with the superblock's tables left out. */
export function layoutJson(l: FirmwareLayout): unknown {
  return {
    size: l.size,
    eraseBlock: l.eraseBlock,
    parts: l.parts.map((p) => (p.kind === 'squashfs'
      ? { kind: p.kind, name: p.name, offset: p.offset, size: p.size, alignment: p.alignment, compression: p.superblock.compression, blockSize: p.superblock.blockSize, inodes: p.superblock.inodes }
      : p)),
  };
}
