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
import { hostBuffer as b, hostFromBytes as hostBytes, hostFromText as hostText, type HostPath } from '../bytes/names.js';
import { Rollback } from '../bytes/rollback.js';
import { encodeName, fileType, isDir, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK } from './layout.js';
import type { CpioRecord } from './read.js';

export interface ExtractOptions {
  /** Apply uid/gid from the archive (needs root). Default: only when running as root. */
  sameOwner?: boolean;
  /** Called for entries that cannot be created as they are (device nodes without root, sockets). */
  onWarning?: (name: string, message: string) => void;
  /**
   * Where each archive of `records` starts (a segment's `archiveStarts`): hard links are matched
   * within one archive only, as the kernel forgets them at each trailer. Default: one archive.
   */
  archiveStarts?: readonly number[];
}

/** Splits a stored name into safe components, or throws FormatError BAD_FIELD. */
export function safeComponents(name: string, offset: number): string[] {
  if (name.startsWith('/')) throw new FormatError('cpio', 'BAD_FIELD', offset, `Cannot extract "${name}": absolute names are refused`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new FormatError('cpio', 'BAD_FIELD', offset, `Cannot extract "${name}": names with ".." are refused`);
  return parts;
}

// host paths (bytes/names.ts): `b` gives the bytes to the fs calls; entry names go back to their
// stored bytes with `encodeName`

async function lstatOrUndefined(p: HostPath): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.lstat(b(p));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Where an entry was made: its path, its components below the folder, and the host's inode number for it. */
interface Made {
  readonly path: HostPath;
  readonly parts: readonly HostPath[];
  readonly ino: number;
}

/**
 * Folders below the destination that this extraction made or found, each seen as a real directory
 * (never a symlink) since the last removal. A name is its components joined by "/". Entries only
 * ever create at paths that do not exist, so a folder seen once stays one until something is
 * removed; any removal forgets them all (on a case-insensitive file system a removed "A" may be a
 * known "a"). This keeps the checks per entry constant instead of one lstat per folder above it.
 */
class Folders {
  readonly #known = new Set<HostPath>();
  constructor(
    readonly dir: HostPath,
    readonly rollback: Rollback,
  ) {}

  /** Records that `key` (below the destination) was just seen as a real directory. */
  add(key: HostPath): void {
    this.#known.add(key);
  }

  /** Forgets every folder: call before anything is removed. */
  clear(): void {
    this.#known.clear();
  }

  /**
   * Makes sure each of `parts` but the last (the entry itself) is a real directory, making the
   * missing ones with `mode` when given; `bad` is the index of the first that is something else
   * (with its stats, if it exists), or -1. Folders already known are not looked at again.
   */
  async parents(parts: readonly HostPath[], mode?: number): Promise<{ bad: number; st?: import('node:fs').Stats }> {
    const keys: HostPath[] = [];
    let key = '';
    for (let i = 0; i < parts.length - 1; i++) keys.push((key = i === 0 ? parts[0]! : `${key}/${parts[i]!}`));
    let from = keys.length;
    while (from > 0 && !this.#known.has(keys[from - 1]!)) from--;
    for (let i = from; i < keys.length; i++) {
      const at = join(this.dir, keys[i]!);
      // when only checking, a folder that cannot be looked at is not the one that was made
      const st = mode === undefined ? await lstatOrUndefined(at).catch(() => undefined) : await lstatOrUndefined(at);
      if (!st && mode !== undefined) {
        await fs.mkdir(b(at), { mode });
        this.rollback.made(at, true);
      }
      else if (!st?.isDirectory()) return st ? { bad: i, st } : { bad: i };
      this.#known.add(keys[i]!);
    }
    return { bad: -1 };
  }
}

/**
 * Whether `m` is still what this extraction made: every folder on its way a real directory (no
 * symlink planted by a later entry) and the same inode at its path. A later entry may have
 * replaced it, or a folder above it, with anything, including a symlink out of the folder.
 */
async function stillMade(folders: Folders, m: Made): Promise<boolean> {
  if ((await folders.parents(m.parts)).bad >= 0) return false;
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
 * go only to folders that are still the ones this extraction made. Every name is checked before
 * anything is made, and an extraction that fails removes what it made: only the error is left.
 *
 * @example
 * ```ts
 * for (const seg of await walkInitramfs(img)) await extractRecords(seg.records, 'out');
 * ```
 */
export async function extractRecords(records: readonly CpioRecord[], dir: string, opts: ExtractOptions = {}): Promise<void> {
  for (const { entry } of records) safeComponents(entry.name, entry.offset);
  await Rollback.around(dir, (rollback) => extractInto(records, dir, rollback, opts));
}

/**
 * Extracts every segment of an initramfs (from `walkInitramfs`) into `dir` as one extraction: hard
 * links are matched within each archive, and one that fails leaves nothing of any segment.
 */
export async function extractSegments(
  segments: readonly { readonly records: readonly CpioRecord[]; readonly archiveStarts: readonly number[] }[],
  dir: string,
  opts: Omit<ExtractOptions, 'archiveStarts'> = {},
): Promise<void> {
  const records: CpioRecord[] = [];
  const archiveStarts: number[] = [];
  for (const seg of segments) {
    archiveStarts.push(records.length, ...seg.archiveStarts.map((i) => records.length + i));
    for (const r of seg.records) records.push(r);
  }
  await extractRecords(records, dir, { ...opts, archiveStarts });
}

async function extractInto(records: readonly CpioRecord[], dir: string, rollback: Rollback, opts: ExtractOptions): Promise<void> {
  const top = hostText(dir);
  const owner = opts.sameOwner ?? process.getuid?.() === 0;
  const links = new Map<string, Made>();
  const dirs: [Made, CpioRecord][] = [];
  const folders = new Folders(top, rollback);
  let staging: string | undefined; // a folder of our own for device nodes whose names mknod cannot take
  const warn = opts.onWarning ?? (() => {});
  try {
    const starts = new Set(opts.archiveStarts ?? []);
    for (const [i, rec] of records.entries()) {
      if (i > 0 && starts.has(i)) links.clear(); // the kernel's free_hash() at a trailer
      const { entry, data } = rec;
      const parts = safeComponents(entry.name, entry.offset).map((p) => hostBytes(encodeName(p)));
      if (parts.length === 0) {
        dirs.push([{ path: top, parts, ino: (await fs.lstat(dir)).ino }, rec]); // "." itself: only its mode and times
        continue;
      }
      // every parent must be a real directory inside `dir` (created here if missing)
      const { bad, st: odd } = await folders.parents(parts, 0o755);
      if (bad >= 0)
        throw new FormatError('cpio', 'BAD_FIELD', entry.offset, `Cannot extract "${entry.name}": "${b(parts.slice(0, bad + 1).join('/')).toString()}" is not a directory${odd?.isSymbolicLink() ? ' but a symlink' : ''}`);
      const path = join(top, parts.join('/'));
      const type = fileType(entry.mode);
      const existing = await lstatOrUndefined(path);
      // the kernel's clean_path: an existing entry of another type is removed
      if (existing && !(existing.isDirectory() && type === S_IFDIR)) {
        folders.clear();
        await fs.rm(b(path), { recursive: existing.isDirectory(), force: true });
      }
      // what was there and is replaced is not recorded: a failed run removes only what it made where nothing was
      if (type !== S_IFDIR && !existing) rollback.made(path, false);
      // hard links, as the kernel's maybe_link: files and nodes, never folders or symlinks
      const key = `${entry.devMajor}:${entry.devMinor}:${entry.ino}:${type}`;
      const linked = type !== S_IFDIR && type !== S_IFLNK && entry.nlink >= 2;
      if (linked) {
        const first = links.get(key);
        if (first !== undefined && (await stillMade(folders, first))) {
          await fs.link(b(first.path), b(path));
          if (data.length) {
            // data on a later link replaces it, as the kernel; the link is to the file checked above
            const fh = await fs.open(b(path), LINKED_FILE);
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
          if (!existing?.isDirectory()) {
            await fs.mkdir(b(path), { mode: 0o700 });
            if (!existing) rollback.made(path, true);
          }
          dirs.push([{ path, parts, ino: (await fs.lstat(b(path))).ino }, rec]);
          folders.add(parts.join('/'));
          continue;
        case S_IFREG: {
          const fh = await fs.open(b(path), NEW_FILE, 0o600);
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
          const target = Buffer.from(end < 0 ? data : data.subarray(0, end)); // the bytes as stored, as the name
          if (target.length === 0) {
            warn(entry.name, 'a symlink with an empty target cannot be created');
            continue;
          }
          await fs.symlink(target, b(path));
          if (owner) await fs.lchown(b(path), entry.uid, entry.gid).catch(() => {});
          continue;
        }
        case S_IFCHR:
        case S_IFBLK:
        case S_IFIFO: {
          const kind = type === S_IFCHR ? ['c', String(entry.rdevMajor), String(entry.rdevMinor)] : type === S_IFBLK ? ['b', String(entry.rdevMajor), String(entry.rdevMinor)] : ['p'];
          // mknod takes its path as text: a name that is not UTF-8 is made under a name of ours, then renamed
          const direct = Buffer.from(b(path).toString()).equals(b(path));
          const made = direct ? b(path).toString() : join((staging ??= await fs.mkdtemp(join(dir, '.imgkit-nodes-'))), 'node');
          const r = spawnSync('mknod', [made, ...kind], { encoding: 'utf8' });
          if (r.status !== 0) {
            warn(entry.name, `cannot create the node: ${(r.stderr || String(r.error ?? '')).trim()}`);
            continue;
          }
          if (!direct) await fs.rename(made, b(path));
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
      const st = await fs.lstat(b(path));
      if (st.isSymbolicLink()) continue;
      if (linked) links.set(key, { path, parts, ino: st.ino });
      if (owner) await fs.chown(b(path), entry.uid, entry.gid).catch(() => {});
      await fs.chmod(b(path), entry.mode & 0o7777);
      await fs.utimes(b(path), entry.mtime, entry.mtime);
    }
  } finally {
    // the folder for nodes goes, also when an entry failed
    if (staging !== undefined) await fs.rm(staging, { recursive: true, force: true });
  }
  // directories last, deepest first, so that read-only modes do not stop their own extraction;
  // one a later entry replaced (by a file, or by a symlink to anywhere) is left alone. A folder
  // named more than once (in two segments, say) ends as the kernel leaves it: owner and mode from
  // its last entry (chown and chmod at each), time from its first (the kernel's dir_utime goes
  // through its list newest first)
  const last = new Map(dirs.filter(([, rec]) => isDir(rec.entry.mode)).map(([made, rec]) => [made.path, rec.entry]));
  for (const [made, { entry }] of dirs.reverse()) {
    if (!isDir(entry.mode) || !(await stillMade(folders, made))) continue;
    const final = last.get(made.path)!;
    if (owner) await fs.chown(b(made.path), final.uid, final.gid).catch(() => {});
    await fs.chmod(b(made.path), final.mode & 0o7777);
    await fs.utimes(b(made.path), entry.mtime, entry.mtime);
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
