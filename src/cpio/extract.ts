/**
 * Extraction into a folder, never outside it: names with `..` components or a leading `/` are
 * refused, and so is any entry whose parent path inside the folder is a symlink (an earlier
 * entry could otherwise point it anywhere). Later entries replace earlier ones, hard links are
 * linked (data may come on any link of the group), as the kernel's unpacker does.
 */
import { spawnSync } from 'node:child_process';
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

/**
 * Extracts records (from `walkInitramfs` or `decodeCpio`) into `dir`, which is created if needed.
 *
 * @example
 * ```ts
 * for (const seg of await walkInitramfs(img)) await extractRecords(seg.records, 'out');
 * ```
 */
export async function extractRecords(records: readonly CpioRecord[], dir: string, opts: ExtractOptions = {}): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const owner = opts.sameOwner ?? process.getuid?.() === 0;
  const links = new Map<string, string>();
  const dirs: [string, CpioRecord][] = [];
  const warn = opts.onWarning ?? (() => {});
  for (const rec of records) {
    const { entry, data } = rec;
    const parts = safeComponents(entry.name, entry.offset);
    if (parts.length === 0) {
      dirs.push([dir, rec]); // "." itself: only its mode and times
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
    const key = `${entry.devMajor}:${entry.devMinor}:${entry.ino}:${type}`;
    if (type !== S_IFDIR && entry.nlink >= 2) {
      const first = links.get(key);
      if (first !== undefined) {
        await fs.link(first, path);
        if (data.length) await fs.writeFile(path, data); // data on a later link replaces it, as the kernel
        continue;
      }
      links.set(key, path);
    }
    switch (type) {
      case S_IFDIR:
        if (!existing?.isDirectory()) await fs.mkdir(path, { mode: 0o700 });
        dirs.push([path, rec]);
        continue;
      case S_IFREG:
        await fs.writeFile(path, data, { mode: 0o600 });
        break;
      case S_IFLNK: {
        const end = data.indexOf(0);
        await fs.symlink(Buffer.from(end < 0 ? data : data.subarray(0, end)).toString(), path);
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
    if (owner) await fs.chown(path, entry.uid, entry.gid).catch(() => {});
    await fs.chmod(path, entry.mode & 0o7777);
    await fs.utimes(path, entry.mtime, entry.mtime);
  }
  // directories last, deepest first, so that read-only modes do not stop their own extraction
  for (const [path, { entry }] of dirs.reverse()) {
    if (!isDir(entry.mode)) continue;
    if (owner) await fs.chown(path, entry.uid, entry.gid).catch(() => {});
    await fs.chmod(path, entry.mode & 0o7777);
    await fs.utimes(path, entry.mtime, entry.mtime);
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
