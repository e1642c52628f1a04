/**
 * Text output: the long listing of `unsquashfs -lln -UTC` (with device numbers decoded the Linux
 * way, where unsquashfs 4.5 prints rdev >> 8 and rdev & 0xff) and the superblock summary of
 * `unsquashfs -s`.
 */
import { decodeName } from '../bytes/names.js';
import { GZIP_STRATEGIES, XZ_FILTERS } from './compressor.js';
import { decodeRdev, FLAG, KIND_IFMT } from './layout.js';
import type { SquashfsInode } from './inode.js';
import type { Squashfs } from './read.js';


/** `ls -l` mode string with setuid/setgid/sticky letters. */
export function modeString(kind: keyof typeof KIND_IFMT, mode: number): string {
  const t = { dir: 'd', file: '-', symlink: 'l', blockdev: 'b', chardev: 'c', fifo: 'p', socket: 's' }[kind];
  const rwx = (bits: number, special: boolean, ch: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return t + rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') + rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') + rwx(mode & 7, (mode & 0o1000) !== 0, 't');
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** "2020-09-13 12:26" in UTC. */
export function utcMinute(t: number): string {
  const d = new Date(t * 1000);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

// a listing repeats a few modes and times many times over (files of one package share them)
const modes = new Map<number, string>();
const minutes = new Map<number, string>();
const remember = <K, V>(m: Map<K, V>, k: K, v: V): V => {
  if (m.size >= 4096) m.clear();
  m.set(k, v);
  return v;
};

/** One line of `unsquashfs -lln -UTC` (TOTALCHARS 25 for "uid/gid size"). */
export function longLine(kind: keyof typeof KIND_IFMT, mode: number, uid: number, gid: number, size: number, rdev: number, mtime: number, path: string, target?: string): string {
  const ids = `${uid}/${gid}`;
  const padchars = 25 - ids.length + 1;
  let sizeField: string;
  if (kind === 'blockdev' || kind === 'chardev') {
    const { major, minor } = decodeRdev(rdev);
    sizeField = `${' '.repeat(Math.max(0, padchars - 7))}${String(major).padStart(3)},${String(minor).padStart(3)}`;
  } else sizeField = String(size).padStart(Math.max(0, padchars));
  const m = modes.get(KIND_IFMT[kind] + mode) ?? remember(modes, KIND_IFMT[kind] + mode, modeString(kind, mode));
  const time = minutes.get(mtime) ?? remember(minutes, mtime, utcMinute(mtime));
  return `${m} ${ids} ${sizeField} ${time} ${path}${target !== undefined ? ` -> ${target}` : ''}`;
}

/** {@link longLine} of an inode at path `p`. */
export function inodeLine(p: string, inode: SquashfsInode, uid: number, gid: number): string {
  const size = inode.kind === 'file' || inode.kind === 'dir' ? inode.size : inode.kind === 'symlink' ? inode.target!.length : 0;
  return longLine(inode.kind, inode.mode, uid, gid, size, inode.rdev, inode.mtime, p, inode.kind === 'symlink' ? decodeName(inode.target ?? new Uint8Array(0)) : undefined);
}

/**
 * The lines `unsquashfs -lln` prints before the subtree of PATH (`parts`): the root and every
 * directory on the way to PATH.
 */
export async function listingHead(fs: Squashfs, parts: readonly string[], prefix: string, long: boolean): Promise<string[]> {
  const statLine = async (p: string, inode: SquashfsInode) => {
    const { uid, gid } = await fs.stat(inode);
    return inodeLine(p, inode, uid, gid);
  };
  const root = await fs.root();
  const lines = [long ? await statLine(prefix, root) : prefix];
  for (let i = 1; i < parts.length; i++) {
    const p = `${prefix}/${parts.slice(0, i).join('/')}`;
    const inode = await fs.lookup(parts.slice(0, i).join('/'));
    lines.push(long ? await statLine(p, inode) : p);
  }
  return lines;
}

/** Entries formatted per chunk of {@link longListingChunks}. */
const LIST_CHUNK = 128;

/** The listing of `path` and everything under it, as `unsquashfs -lln -UTC IMG [PATH]` prints it. */
export async function* longListing(fs: Squashfs, path = '/', prefix = 'squashfs-root', long = true): AsyncGenerator<string> {
  for await (const lines of longListingChunks(fs, path, prefix, long)) yield* lines;
}

/** As {@link longListing}, a chunk of lines at a time (one wait per chunk, not per line). */
export async function* longListingChunks(fs: Squashfs, path = '/', prefix = 'squashfs-root', long = true): AsyncGenerator<string[]> {
  await fs.preload();
  const parts = path.split('/').filter((p) => p && p !== '.');
  const line = inodeLine;
  const statLine = async (p: string, inode: SquashfsInode) => {
    const { uid, gid } = await fs.stat(inode);
    return line(p, inode, uid, gid);
  };
  yield await listingHead(fs, parts, prefix, long);
  const ids = fs.idsNow();
  // small chunks: a chunk's inodes, paths and lines then die young, in the scavenger, rather than
  // survive into the old generation (1024 entries at a time took twice the collection time)
  for await (const chunk of fs.walkChunks(parts.length ? parts.join('/') : '/', LIST_CHUNK)) {
    const lines: string[] = [];
    for (const { path: p, inode } of chunk) {
      if (p === '/') continue;
      if (!long) lines.push(prefix + p);
      else {
        const uid = ids?.[inode.uidIndex], gid = ids?.[inode.gidIndex];
        lines.push(uid === undefined || gid === undefined ? await statLine(prefix + p, inode) : line(prefix + p, inode, uid, gid));
      }
    }
    yield lines;
  }
}

/** C ctime() in UTC: "Sun Sep 13 12:26:40 2020". */
function ctime(t: number): string {
  const d = new Date(t * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  return `${day} ${mon} ${String(d.getUTCDate()).padStart(2)} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

const COMP_NAMES = { gzip: 'gzip', lzma: 'lzma', lzo: 'lzo', xz: 'xz', lz4: 'lz4', zstd: 'zstd' } as const;

/** The superblock summary, worded as `unsquashfs -s`. */
export async function formatInfo(fs: Squashfs, name: string): Promise<string> {
  const sb = fs.superblock;
  const f = sb.flags;
  const yes = (flag: number, on: string, off: string) => (f & flag ? on : off);
  const lines = [
    `Found a valid SQUASHFS 4:0 superblock on ${name}.`,
    `Creation or last append time ${ctime(sb.mkfsTime)}`,
    `Filesystem size ${sb.bytesUsed} bytes (${(sb.bytesUsed / 1024).toFixed(2)} Kbytes / ${(sb.bytesUsed / 1048576).toFixed(2)} Mbytes)`,
    `Compression ${COMP_NAMES[sb.compression]}`,
  ];
  const o = fs.compressorOptions;
  if (o) {
    const names = (bits: number, table: readonly (readonly [string, number])[]) => table.filter(([, b]) => bits & b).map(([n]) => n).join(', ');
    if (sb.compression === 'gzip')
      lines.push(`\tcompression-level ${o.level}`, `\twindow-size ${o.windowSize}`, `\tStrategies selected: ${names(o.strategies ?? 0, GZIP_STRATEGIES) || 'default'}`);
    if (sb.compression === 'xz') lines.push(`\tDictionary size ${o.dictSize}`, o.filters ? `\tFilters selected: ${names(o.filters, XZ_FILTERS)}` : '\tNo filters specified');
    if (sb.compression === 'zstd') lines.push(`\tcompression-level ${o.level}`);
    if (sb.compression === 'lz4' && o.hc) lines.push('\tHigh Compression option specified (-Xhc)');
    if (sb.compression === 'lzo') {
      lines.push(`\talgorithm ${['lzo1x_1', 'lzo1x_1_11', 'lzo1x_1_12', 'lzo1x_1_15', 'lzo1x_999'][o.algorithm ?? 4] ?? o.algorithm}`);
      if (o.algorithm === 4) lines.push(`\tcompression level ${o.level}`);
    }
  }
  lines.push(
    `Block size ${sb.blockSize}`,
    ...(sb.lookupTableStart !== undefined ? ['Filesystem is exportable via NFS'] : ['Filesystem is not exportable via NFS']),
    `Inodes are ${yes(FLAG.UNCOMPRESSED_INODES, 'uncompressed', 'compressed')}`,
    `Data is ${yes(FLAG.UNCOMPRESSED_DATA, 'uncompressed', 'compressed')}`,
    // 4.5 writes the id table uncompressed with -noI and has no separate flag; 4.6 adds UNCOMPRESSED_IDS (-noId)
    `Uids/Gids (Id table) are ${yes(FLAG.UNCOMPRESSED_IDS | FLAG.UNCOMPRESSED_INODES, 'uncompressed', 'compressed')}`,
  );
  if (f & FLAG.NO_FRAGMENTS) lines.push('Fragments are not stored');
  else lines.push(`Fragments are ${yes(FLAG.UNCOMPRESSED_FRAGMENTS, 'uncompressed', 'compressed')}`, `Always-use-fragments option is ${yes(FLAG.ALWAYS_FRAGMENTS, '', 'not ')}specified`);
  if (f & FLAG.NO_XATTRS) lines.push('Xattrs are not stored');
  else lines.push(`Xattrs are ${yes(FLAG.UNCOMPRESSED_XATTRS, 'uncompressed', 'compressed')}`);
  lines.push(
    `Duplicates are ${yes(FLAG.DUPLICATES, '', 'not ')}removed`,
    `Number of fragments ${sb.fragments}`,
    `Number of inodes ${sb.inodes}`,
    `Number of ids ${sb.noIds}`,
  );
  if (fs.xattrIds) lines.push(`Number of xattr ids ${fs.xattrIds.count}`);
  return lines.join('\n') + '\n';
}
