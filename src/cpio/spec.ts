/**
 * The kernel's usr/gen_init_cpio list format, so that device nodes need no root:
 *
 *   # comment
 *   file  <name> <location> <mode> <uid> <gid> [<hard links>...]
 *   dir   <name> <mode> <uid> <gid>
 *   nod   <name> <mode> <uid> <gid> <dev_type b|c> <maj> <min>
 *   slink <name> <target> <mode> <uid> <gid>
 *   pipe  <name> <mode> <uid> <gid>
 *   sock  <name> <mode> <uid> <gid>
 *
 * mode is octal, uid/gid decimal, `${VAR}` in <location> expands from the environment, a leading
 * `/` on names is dropped. The entries follow gen_init_cpio's conventions: ino from 721, c_maj:c_min
 * 3:1, nlink 2 for dir/pipe/sock, the number of names for files (data on the last name),
 * symlink data with its NUL; `-t` (`mtime`) sets every mtime, regular files included.
 */
import * as nodeFs from 'node:fs/promises';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, U32_MAX } from './layout.js';
import type { CpioItem } from './write.js';
import type { StreamPayload } from '../bytes/payload.js';

export class SpecError extends Error {
  override readonly name = 'SpecError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface SpecOptions {
  /** gen_init_cpio -t: mtime of every entry. Default: the file's own mtime for files, `defaultMtime` for the rest. */
  mtime?: number;
  /** mtime of non-file entries when `mtime` is unset (gen_init_cpio uses the current time; default 0 here). */
  defaultMtime?: number;
  /** Environment for `${VAR}` in file locations (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Folder that relative locations are resolved against (default: the process' directory, as gen_init_cpio). */
  cwd?: string;
  /** SOURCE_DATE_EPOCH: clamp every mtime to at most this. */
  clampMtime?: number;
}

const octal = (s: string | undefined, line: number, what: string): number => {
  if (s === undefined || !/^[0-7]+$/.test(s)) throw new SpecError(line, `${what} "${s ?? ''}" is not an octal number`);
  return parseInt(s, 8) & 0o7777;
};
const decimal = (s: string | undefined, line: number, what: string): number => {
  if (s === undefined || !/^[0-9]+$/.test(s) || Number(s) > U32_MAX) throw new SpecError(line, `${what} "${s ?? ''}" is not a u32 decimal number`);
  return Number(s);
};
const stripSlash = (name: string): string => (name.startsWith('/') ? name.slice(1) : name);

/**
 * Parses a gen_init_cpio list into writer items (reading the stat of each `file` location now,
 * and its bytes when the archive is written).
 *
 * @example
 * ```ts
 * const items = await parseSpec('dir /dev 755 0 0\nnod /dev/console 600 0 0 c 5 1\n', { mtime: 0 });
 * ```
 */
export async function parseSpec(text: string, opts: SpecOptions = {}): Promise<CpioItem[]> {
  const env = opts.env ?? process.env;
  const items: CpioItem[] = [];
  let ino = 721;
  const lines = text.split('\n');
  const clamp = (t: number): number => (opts.clampMtime !== undefined && t > opts.clampMtime ? opts.clampMtime : t);
  const otherMtime = clamp(opts.mtime ?? opts.defaultMtime ?? 0);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    // a name or target cannot hold NUL (gen_init_cpio's C strings end there)
    if (lines[i]!.includes('\0')) throw new SpecError(n, 'a NUL byte in the line');
    const f = lines[i]!.replace(/\r$/, '').trim().split(/[ \t]+/);
    const kind = f[0];
    if (!kind || kind.startsWith('#')) continue;
    const common = { uid: 0, gid: 0, devMajor: 3, devMinor: 1 };
    const need = (k: number): void => {
      if (f.length < k) throw new SpecError(n, `"${kind}" needs ${k - 1} fields, has ${f.length - 1}`);
    };
    switch (kind) {
      case 'dir':
      case 'pipe':
      case 'sock': {
        need(5);
        const type = kind === 'dir' ? S_IFDIR : kind === 'pipe' ? S_IFIFO : S_IFSOCK;
        items.push({ ...common, name: stripSlash(f[1]!), mode: type | octal(f[2], n, 'mode'), uid: decimal(f[3], n, 'uid'), gid: decimal(f[4], n, 'gid'), ino: ino++, nlink: 2, mtime: otherMtime });
        break;
      }
      case 'nod': {
        need(8);
        if (f[5] !== 'b' && f[5] !== 'c') throw new SpecError(n, `device type "${f[5]}" is not b or c`);
        items.push({
          ...common, name: stripSlash(f[1]!), mode: (f[5] === 'b' ? S_IFBLK : S_IFCHR) | octal(f[2], n, 'mode'),
          uid: decimal(f[3], n, 'uid'), gid: decimal(f[4], n, 'gid'), ino: ino++, nlink: 1, mtime: otherMtime,
          rdevMajor: decimal(f[6], n, 'major'), rdevMinor: decimal(f[7], n, 'minor'),
        });
        break;
      }
      case 'slink': {
        need(6);
        const target = new TextEncoder().encode(`${f[2]!}\0`);
        items.push({ ...common, name: stripSlash(f[1]!), mode: S_IFLNK | octal(f[3], n, 'mode'), uid: decimal(f[4], n, 'uid'), gid: decimal(f[5], n, 'gid'), ino: ino++, nlink: 1, mtime: otherMtime, data: target });
        break;
      }
      case 'file': {
        need(6);
        let location = f[2]!.replace(/\$\{([^}]*)\}/g, (_, v: string) => env[v] ?? '');
        if (opts.cwd && !location.startsWith('/')) location = `${opts.cwd}/${location}`;
        let st: import('node:fs').Stats;
        try {
          st = await nodeFs.stat(location);
        } catch (e) {
          throw new SpecError(n, `cannot read "${location}": ${(e as Error).message}`);
        }
        if (!st.isFile()) throw new SpecError(n, `"${location}" is not a regular file`);
        if (st.size > U32_MAX) throw new SpecError(n, `"${location}" is larger than 4 GiB`);
        const names = [f[1]!, ...f.slice(6)];
        const mtime = clamp(opts.mtime ?? Math.max(0, Math.min(U32_MAX, Math.floor(st.mtimeMs / 1000))));
        const data: StreamPayload = { size: st.size, chunks: async function* () { yield new Uint8Array(await nodeFs.readFile(location)); } };
        names.forEach((name, k) =>
          items.push({
            ...common, name: stripSlash(name), mode: S_IFREG | octal(f[3], n, 'mode'), uid: decimal(f[4], n, 'uid'), gid: decimal(f[5], n, 'gid'),
            ino, nlink: names.length, mtime, ...(k === names.length - 1 && st.size > 0 && { data }),
          }),
        );
        ino++;
        break;
      }
      default:
        throw new SpecError(n, `unknown entry type "${kind}"`);
    }
  }
  return items;
}

/**
 * The gen_init_cpio list that describes entries (the inverse of `parseSpec` for metadata:
 * files are named by `location(name)`).
 */
export function formatSpec(items: readonly { name: string; mode: number; uid: number; gid: number; rdevMajor: number; rdevMinor: number; target?: string }[], location: (name: string) => string): string {
  const o = (m: number): string => (m & 0o7777).toString(8);
  return items
    .map((e) => {
      const name = `/${e.name.replace(/^\/+/, '')}`;
      const tail = `${o(e.mode)} ${e.uid} ${e.gid}`;
      switch (e.mode & 0o170000) {
        case S_IFDIR: return `dir ${name} ${tail}`;
        case S_IFIFO: return `pipe ${name} ${tail}`;
        case S_IFSOCK: return `sock ${name} ${tail}`;
        case S_IFLNK: return `slink ${name} ${e.target ?? ''} ${tail}`;
        case S_IFCHR: return `nod ${name} ${tail} c ${e.rdevMajor} ${e.rdevMinor}`;
        case S_IFBLK: return `nod ${name} ${tail} b ${e.rdevMajor} ${e.rdevMinor}`;
        default: return `file ${name} ${location(e.name)} ${tail}`;
      }
    })
    .join('\n') + '\n';
}
