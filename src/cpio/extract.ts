/**
 * Extraction into a folder, never outside it: names with `..` components or a leading `/` are
 * refused, and so is any entry whose parent path inside the folder is a symlink (an earlier
 * entry could otherwise point it anywhere). Later entries replace earlier ones, hard links are
 * linked (data may come on any link of the group), as the kernel's unpacker does; a link whose
 * group's first file was replaced since is made as a file of its own.
 */
import { spawnSync } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../bytes/errors.js';
import { fileType, isDir, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK } from './layout.js';
import type { CpioRecord } from './read.js';

export interface ExtractOptions {
  /** Apply uid/gid from the archive (needs root). Default: only when running as root. */
  sameOwner?: boolean;
  /** Called for entries that cannot be created as they are (device nodes without root, sockets). */
  onWarning?: (name: string, message: string) => void;
}

/** Splits a stored name into safe components, or throws FormatError BAD_FIELD. */
export function safeComponents(name: string, offset: number): string[] {
  if (name.startsWith('/')) throw new FormatError('cpio', 'BAD_FIELD', offset, `Cannot extract "${name}": absolute names are refused`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new FormatError('cpio', 'BAD_FIELD', offset, `Cannot extract "${name}": names with ".." are refused`);
  return parts;
}

async function lstatOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Where an entry was made: its path, its components below the folder, and the host's inode number for it. */
interface Made {
  readonly path: string;
  readonly parts: readonly string[];
  readonly ino: number;
}

/**
 * Whether `m` is still what this extraction made: every folder on its way a real directory (no
 * symlink planted by a later entry) and the same inode at its path. A later entry may have
 * replaced it, or a folder above it, with anything, including a symlink out of the folder.
 */
async function stillMade(dir: string, m: Made): Promise<boolean> {
  let at = dir;
  for (const p of m.parts.slice(0, -1)) {
    at = join(at, p);
    const st = await lstatOrUndefined(at).catch(() => undefined);
    if (!st?.isDirectory()) return false;
  }
  const st = await lstatOrUndefined(m.path).catch(() => undefined);
  return st !== undefined && !st.isSymbolicLink() && st.ino === m.ino;
}

const NEW_FILE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0);
const LINKED_FILE = fsc.O_WRONLY | fsc.O_TRUNC | (fsc.O_NOFOLLOW ?? 0);

/**
 * Extracts records (from `walkInitramfs` or `decodeCpio`) into `dir`, which is created if needed.
 * Nothing is written, linked or changed through a path that a later entry turned into a symlink:
 * a hard link is made only to the very file its group's first entry made (else it is made afresh),
 * files are created exclusively and never followed, and the folders' modes and times, set last,
 * go only to folders that are still the ones this extraction made.
 *
 * @example
 * ```ts
 * for (const seg of await walkInitramfs(img)) await extractRecords(seg.records, 'out');
 * ```
 */
export async function extractRecords(records: readonly CpioRecord[], dir: string, opts: ExtractOptions = {}): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const owner = opts.sameOwner ?? process.getuid?.() === 0;
  const links = new Map<string, Made>();
  const dirs: [Made, CpioRecord][] = [];
  const warn = opts.onWarning ?? (() => {});
  for (const rec of records) {
    const { entry, data } = rec;
    const parts = safeComponents(entry.name, entry.offset);
    if (parts.length === 0) {
      dirs.push([{ path: dir, parts, ino: (await fs.lstat(dir)).ino }, rec]); // "." itself: only its mode and times
      continue;
    }
    // every parent must be a real directory inside `dir` (created here if missing)
    let parent = dir;
    for (const p of parts.slice(0, -1)) {
      parent = join(parent, p);
      const st = await lstatOrUndefined(parent);
      if (!st) await fs.mkdir(parent, { mode: 0o755 });
      else if (!st.isDirectory())
        throw new FormatError('cpio', 'BAD_FIELD', entry.offset, `Cannot extract "${entry.name}": "${parts.slice(0, parts.indexOf(p) + 1).join('/')}" is not a directory${st.isSymbolicLink() ? ' but a symlink' : ''}`);
    }
    const path = join(parent, parts[parts.length - 1]!);
    const type = fileType(entry.mode);
    const existing = await lstatOrUndefined(path);
    // the kernel's clean_path: an existing entry of another type is removed
    if (existing && !(existing.isDirectory() && type === S_IFDIR)) await fs.rm(path, { recursive: existing.isDirectory(), force: true });
    // hard links, as the kernel's maybe_link: files and nodes, never folders or symlinks
    const key = `${entry.devMajor}:${entry.devMinor}:${entry.ino}:${type}`;
    const linked = type !== S_IFDIR && type !== S_IFLNK && entry.nlink >= 2;
    if (linked) {
      const first = links.get(key);
      if (first !== undefined && (await stillMade(dir, first))) {
        await fs.link(first.path, path);
        if (data.length) {
          // data on a later link replaces it, as the kernel; the link is to the file checked above
          const fh = await fs.open(path, LINKED_FILE);
          try {
            await fh.writeFile(data);
          } finally {
            await fh.close();
          }
        }
        continue;
      }
    }
    switch (type) {
      case S_IFDIR:
        if (!existing?.isDirectory()) await fs.mkdir(path, { mode: 0o700 });
        dirs.push([{ path, parts, ino: (await fs.lstat(path)).ino }, rec]);
        continue;
      case S_IFREG: {
        const fh = await fs.open(path, NEW_FILE, 0o600);
        try {
          await fh.writeFile(data);
          if (owner) await fh.chown(entry.uid, entry.gid).catch(() => {});
          await fh.chmod(entry.mode & 0o7777);
          await fh.utimes(entry.mtime, entry.mtime);
          if (linked) links.set(key, { path, parts, ino: (await fh.stat()).ino });
        } finally {
          await fh.close();
        }
        continue;
      }
      case S_IFLNK: {
        const end = data.indexOf(0);
        const target = Buffer.from(end < 0 ? data : data.subarray(0, end)).toString();
        if (target === '') {
          warn(entry.name, 'a symlink with an empty target cannot be created');
          continue;
        }
        await fs.symlink(target, path);
        if (owner) await fs.lchown(path, entry.uid, entry.gid).catch(() => {});
        continue;
      }
      case S_IFCHR:
      case S_IFBLK:
      case S_IFIFO: {
        const kind = type === S_IFCHR ? ['c', String(entry.rdevMajor), String(entry.rdevMinor)] : type === S_IFBLK ? ['b', String(entry.rdevMajor), String(entry.rdevMinor)] : ['p'];
        const r = spawnSync('mknod', [path, ...kind], { encoding: 'utf8' });
        if (r.status !== 0) {
          warn(entry.name, `cannot create the node: ${(r.stderr || String(r.error ?? '')).trim()}`);
          continue;
        }
        break;
      }
      case S_IFSOCK:
        warn(entry.name, 'sockets are not created');
        continue;
      default:
        warn(entry.name, `unknown file type 0${type.toString(8)}`);
        continue;
    }
    // a node just made by mknod, inside the checked parents
    const st = await fs.lstat(path);
    if (st.isSymbolicLink()) continue;
    if (linked) links.set(key, { path, parts, ino: st.ino });
    if (owner) await fs.chown(path, entry.uid, entry.gid).catch(() => {});
    await fs.chmod(path, entry.mode & 0o7777);
    await fs.utimes(path, entry.mtime, entry.mtime);
  }
  // directories last, deepest first, so that read-only modes do not stop their own extraction;
  // one a later entry replaced (by a file, or by a symlink to anywhere) is left alone
  for (const [made, { entry }] of dirs.reverse()) {
    if (!isDir(entry.mode) || !(await stillMade(dir, made))) continue;
    if (owner) await fs.chown(made.path, entry.uid, entry.gid).catch(() => {});
    await fs.chmod(made.path, entry.mode & 0o7777);
    await fs.utimes(made.path, entry.mtime, entry.mtime);
  }
}

/** The data of `name` (a regular file; hard links find the link that carries it), last entry winning. */
export function findFile(records: readonly CpioRecord[], name: string): CpioRecord | undefined {
  const want = name.split('/').filter((p) => p !== '' && p !== '.').join('/');
  const norm = (n: string): string => n.split('/').filter((p) => p !== '' && p !== '.').join('/');
  let hit: CpioRecord | undefined;
  for (const r of records) if (norm(r.entry.name) === want) hit = r;
  if (!hit || fileType(hit.entry.mode) !== S_IFREG || hit.entry.nlink < 2 || hit.data.length > 0) return hit;
  const e = hit.entry;
  let carrier: CpioRecord | undefined;
  for (const r of records)
    if (r.entry.ino === e.ino && r.entry.devMajor === e.devMajor && r.entry.devMinor === e.devMinor && fileType(r.entry.mode) === S_IFREG && r.data.length > 0) carrier = r;
  return carrier ? { entry: hit.entry, data: carrier.data } : hit;
}
