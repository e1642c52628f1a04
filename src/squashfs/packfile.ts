/**
 * gensquashfs pack files (squashfs-tools-ng 1.2–1.3 `--pack-file`; man gensquashfs "PACK FILE
 * FORMAT", parser bin/gensquashfs/fstree_from_file.c), gen_init_cpio-like listings:
 *
 *   # comment
 *   file  PATH MODE UID GID [LOCATION]        regular file read from LOCATION (default: PATH)
 *   dir   PATH MODE UID GID                   directory
 *   nod   PATH MODE UID GID c|b MAJOR MINOR   device
 *   slink PATH MODE UID GID TARGET            symlink (its mode is always 0777)
 *   link  PATH MODE UID GID TARGET            hard link to the image path TARGET (MODE UID GID unused)
 *   pipe  PATH MODE UID GID                   fifo
 *   sock  PATH MODE UID GID                   socket
 *   glob  PATH MODE|* UID|* GID|* [OPTIONS] [--] [LOCATION]   a host folder's contents, recursively
 *
 * PATH is absolute in the image, in double quotes when it holds spaces (`\"` and `\\` escapes);
 * "." components are dropped and ".." is an error. MODE is octal ≤ 07777, UID and GID decimal
 * < 2^32 ("*" in a glob: the scanned file's). TARGET and LOCATION are the rest of the line as
 * written. Missing parent folders are made with mode 0755 and owner 0:0. A path is declared once,
 * except that one `dir` line may give attributes to a folder made implicitly (or, with sources,
 * scanned). LOCATIONs are relative to the pack dir, else to the pack file's folder. Every entry
 * gets the same time, except globbed ones with -keeptime. Host xattrs are not read (gensquashfs
 * reads none for pack files; its --xattr-file is not implemented here).
 *
 * glob options: `-type b|c|d|p|f|l|s` (the first narrows to one type, later ones add types; a
 * folder left out is still entered when the image already has it), `-xdev`/`-mount`, `-keeptime`,
 * `-nonrecursive`, `-name PATTERN` (fnmatch on the name), `-path PATTERN` (fnmatch FNM_PATHNAME on
 * the image path). A folder the pattern rejects is not entered. Globbed files are read where the
 * glob found them; gensquashfs ≤ 1.3.1 read them at their image path under the pack dir instead
 * (squashfs-tools-ng 72f9464, "fix file path for glob directory scanning").
 */
import { lstatSync, readdirSync, readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { join, resolve } from 'node:path';
import { hostFile, type SourceEntry, type SourceInode } from './tree.js';
import type { FileKind } from './layout.js';
import { fnmatch } from './select.js';

/** A bad pack file line (exit code 1: bad input, like a FormatError). The message starts with "FILE:LINE: ". */
export class PackFileError extends Error {
  override readonly name = 'PackFileError';
  readonly exitCode = 1;
}

export interface PackFileOptions {
  /** The pack file's name, for messages. */
  name: string;
  /** Folder LOCATIONs are relative to (-pack-dir, else the pack file's folder). */
  base: string;
  /** Time of every entry and implicit folder. */
  mtime: number;
}

/** Nodes a line has declared: a second declaration of the same path is an error. */
const declared = new WeakSet<SourceInode>();

const SPACE = /[ \t\n\v\f\r]/;
const isSpace = (c: string | undefined) => c !== undefined && SPACE.test(c);

/** What each keyword makes, and whether it may name "/" or needs an argument after the gid. */
const KEYWORDS: Record<string, { kind?: FileKind; root?: boolean; extra?: boolean }> = {
  dir: { kind: 'dir', root: true }, slink: { kind: 'symlink', extra: true }, link: { extra: true }, nod: { extra: true },
  pipe: { kind: 'fifo' }, sock: { kind: 'socket' }, file: { kind: 'file' }, glob: { root: true },
};

/** -type letters, as find(1) spells them. */
const TYPE_LETTERS: Record<string, FileKind> = { b: 'blockdev', c: 'chardev', d: 'dir', p: 'fifo', f: 'file', l: 'symlink', s: 'socket' };

/** Path components of an image path, as canonicalize_name() leaves them; undefined for "..". */
function canonical(path: string): string[] | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return parts.includes('..') ? undefined : parts;
}

const kindOf = (st: BigIntStats): FileKind | undefined =>
  st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isBlockDevice() ? 'blockdev'
    : st.isCharacterDevice() ? 'chardev' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : undefined;

/**
 * Adds the entries of a pack file to the tree at `root` (an empty root for an image made from pack
 * files alone). Hard links are resolved once the whole file is read, so a `link` may come before
 * its target.
 *
 * @example
 * ```ts
 * const root: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [] };
 * applyPackFile(root, 'dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n', { name: 'pack.txt', base: '.', mtime: 0 });
 * ```
 */
export function applyPackFile(root: SourceInode, text: string, o: PackFileOptions): void {
  const links: { entry: SourceEntry; target: string[]; path: string; line: number }[] = [];
  const placeholders = new Set<SourceInode>();
  let lineNo = 0;
  const fail = (msg: string): never => {
    throw new PackFileError(`${o.name}:${lineNo}: ${msg}`);
  };
  const describe = (msg: string): never => fail(`${msg} (expected: <type> <path> <mode> <uid> <gid> [<extra>])`);
  const implicitDir = (): SourceInode => ({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: o.mtime, entries: [] });

  /** The node at `parts` (all of them, or all but the last), making missing folders on the way. */
  const walk = (parts: readonly string[], display: string): SourceInode => {
    let cur = root;
    for (const p of parts) {
      if (cur.kind !== 'dir') fail(`${display}: Not a directory`);
      let e = cur.entries!.find((x) => x.name === p);
      if (!e) cur.entries!.push((e = { name: p, inode: implicitDir() }));
      cur = e.inode;
    }
    return cur;
  };
  /** fstree_add_generic(): a new entry, or the attributes of an undeclared folder. */
  const add = (parts: readonly string[], node: SourceInode, display: string): SourceEntry | undefined => {
    let existing: SourceInode | undefined = root;
    let parent: SourceInode | undefined;
    if (parts.length) {
      parent = walk(parts.slice(0, -1), display);
      if (parent.kind !== 'dir') fail(`${display}: Not a directory`);
      existing = parent.entries!.find((x) => x.name === parts[parts.length - 1])?.inode;
    }
    if (existing) {
      if (existing.kind !== 'dir' || node.kind !== 'dir' || declared.has(existing) || placeholders.has(existing)) fail(`${display}: File exists`);
      Object.assign(existing, { mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime });
      declared.add(existing);
      return undefined;
    }
    const entry = { name: parts[parts.length - 1]!, inode: node };
    parent!.entries!.push(entry);
    declared.add(node);
    return entry;
  };

  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.replace(/\r$/, '').replace(/^[ \t\n\v\f\r]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const kw = /^([a-z]+)[ \t\n\v\f\r]/.exec(line)?.[1];
    const spec = kw !== undefined && Object.hasOwn(KEYWORDS, kw) ? KEYWORDS[kw]! : describe('unknown entry type');
    let at = kw!.length;
    const skipSpace = (): boolean => {
      if (!isSpace(line[at])) return false;
      while (isSpace(line[at])) at++;
      return true;
    };
    skipSpace();
    // read_str(): a quoted path ends at its closing quote, a bare one at white space; either way white space follows
    let path = '';
    if (line[at] === '"') {
      for (at++; at < line.length && line[at] !== '"'; at++) {
        if (line[at] === '\\' && (line[at + 1] === '"' || line[at + 1] === '\\')) at++;
        path += line[at];
      }
      if (line[at] !== '"' || !isSpace(line[at + 1])) describe('error in entry description');
      at++;
    } else {
      const start = at;
      while (at < line.length && !isSpace(line[at])) at++;
      path = line.slice(start, at);
      if (!isSpace(line[at])) describe('error in entry description');
    }
    skipSpace();
    const parts = canonical(path) ?? describe('error in entry description: ".." in the path');
    const display = parts.join('/') || '/';
    if (parts.length === 0 && !spec.root) fail(`cannot use / as argument for ${kw}`);
    const number = (base: 8 | 10, what: string): number | undefined => {
      if (kw === 'glob' && line[at] === '*') {
        at++;
        return undefined;
      }
      const m = /^[0-9]+/.exec(line.slice(at));
      if (!m || (base === 8 && /[89]/.test(m[0]))) return describe(what);
      at += m[0].length;
      const v = parseInt(m[0], base);
      if (v > 0xffff_ffff) describe(what);
      return v;
    };
    const mode = number(8, 'mode must be an octal number <= 07777');
    if (mode !== undefined && mode > 0o7777) describe('mode must be an octal number <= 07777');
    if (!skipSpace()) describe('error in entry description');
    const uid = number(10, 'uid & gid must be decimal numbers < 2^32');
    if (!skipSpace()) describe('error in entry description');
    const gid = number(10, 'uid & gid must be decimal numbers < 2^32');
    // gensquashfs ignores anything glued to the gid; a typo there is an error here
    if (at < line.length && !skipSpace()) describe('error in entry description');
    const extra = at < line.length ? line.slice(at) : undefined;
    if (spec.extra && extra === undefined) fail(`missing argument for ${kw}`);
    const attrs = { mode: mode ?? 0, uid: uid ?? 0, gid: gid ?? 0, mtime: o.mtime };

    switch (kw) {
      case 'link': {
        const target = canonical(extra!) ?? fail(`${display}: Invalid argument`);
        const node: SourceInode = { kind: 'file', ...attrs };
        placeholders.add(node);
        links.push({ entry: add(parts, node, display)!, target, path: display, line: lineNo });
        break;
      }
      case 'nod': {
        const m = /^(\S)[ \t\n\v\f\r]*(\d+)[ \t\n\v\f\r]+(\d+)/.exec(extra!) ?? fail("expected '<c|b> major minor'");
        const t = m[1]!.toLowerCase();
        if (t !== 'c' && t !== 'b') fail(`unknown device type '${m[1]}'`);
        const major = Number(m[2]), minor = Number(m[3]);
        // squashfs stores Linux's new_encode_dev(): 12-bit major, 20-bit minor
        if (major > 0xfff || minor > 0xfffff) fail(`device ${major}:${minor} is out of range (major ≤ 4095, minor ≤ 1048575)`);
        add(parts, { kind: t === 'c' ? 'chardev' : 'blockdev', ...attrs, major, minor }, display);
        break;
      }
      case 'slink':
        add(parts, { kind: 'symlink', ...attrs, mode: 0o777, target: extra! }, display);
        break;
      case 'file': {
        const location = extra ?? parts.join('/');
        const host = resolve(o.base, location);
        const st = statSync(host, { bigint: true, throwIfNoEntry: false }) ?? fail(`${location}: No such file or directory`);
        if (!st.isFile()) fail(`${location}: not a regular file`);
        const size = Number(st.size);
        add(parts, { kind: 'file', ...attrs, content: hostFile(host, size), size, allocated: Number(st.blocks) * 512, source: host }, display);
        break;
      }
      case 'glob':
        glob(parts, display, { mode, uid, gid }, extra);
        break;
      default:
        add(parts, { kind: spec.kind!, ...attrs, ...(spec.kind === 'dir' && { entries: [] }) }, display);
    }
  }

  /** fstree_from_dir() with glob_node_callback(): a host folder's contents into the image folder at `parts`. */
  function glob(parts: string[], display: string, set: { mode: number | undefined; uid: number | undefined; gid: number | undefined }, extra: string | undefined): void {
    const target = walk(parts, display);
    if (target.kind !== 'dir') fail(`${display}: target is not a directory`);
    let types: Set<FileKind> | undefined;
    let xdev = false, keepTime = false, recursive = true;
    let pattern: { text: string; path: boolean } | undefined;
    let rest = extra ?? '';
    const spaceAfter = (n: number) => isSpace(rest[n]);
    const drop = (n: number) => {
      rest = rest.slice(n).replace(/^[ \t\n\v\f\r]+/, '');
    };
    while (rest !== '') {
      const type = /^-type ([bcdpfls])/.exec(rest);
      if (type && spaceAfter(7)) {
        (types ??= new Set()).add(TYPE_LETTERS[type[1]!]!);
        drop(7);
      } else if ((rest.startsWith('-xdev') && spaceAfter(5)) || (rest.startsWith('-mount') && spaceAfter(6))) {
        xdev = true;
        drop(rest.startsWith('-xdev') ? 5 : 6);
      } else if (rest.startsWith('-keeptime') && spaceAfter(9)) {
        keepTime = true;
        drop(9);
      } else if (rest.startsWith('-nonrecursive') && spaceAfter(13)) {
        recursive = false;
        drop(13);
      } else if ((rest.startsWith('-name') || rest.startsWith('-path')) && spaceAfter(5)) {
        const isPath = rest.startsWith('-path');
        drop(5);
        // a pattern in "…" or '…' (no escapes) may hold spaces; a bare one ends at white space
        const q = rest[0];
        let len: number;
        let text: string;
        if (q === '"' || q === "'") {
          const close = rest.indexOf(q, 1);
          len = close < 0 ? rest.length : close + 1;
          text = rest.slice(1, close < 0 ? rest.length : close);
        } else {
          len = rest.search(SPACE);
          if (len < 0) len = rest.length;
          text = rest.slice(0, len);
        }
        pattern = { text, path: isPath };
        drop(len);
      } else if (rest.startsWith('-')) {
        if (rest.startsWith('--') && spaceAfter(2)) {
          drop(2);
          break;
        }
        fail(`unknown glob option "${rest.split(SPACE)[0]}"`);
      } else break;
    }
    const from = resolve(o.base, rest === '' ? '.' : rest);
    const top = statSync(from, { bigint: true, throwIfNoEntry: false }) ?? fail(`${rest || '.'}: No such file or directory`);
    if (!top.isDirectory()) fail(`${rest || '.'}: Not a directory`);
    const accepts = (k: FileKind) => !types || types.has(k);
    const scan = (host: string, node: SourceInode, at: string[]): void => {
      for (const name of readdirSync(host).sort()) {
        const hp = join(host, name);
        const st = lstatSync(hp, { bigint: true });
        const kind = kindOf(st);
        if (!kind || (kind !== 'dir' && !accepts(kind))) continue;
        if (xdev && st.dev !== top.dev) continue;
        const path = [...at, name];
        let child: SourceInode;
        const existing = node.entries!.find((x) => x.name === name);
        if (kind === 'dir' && !accepts('dir')) {
          // folders left out by -type are still entered where the image has them
          if (!existing) continue;
          child = existing.inode;
        } else {
          if (pattern && !(pattern.path ? fnmatch(pattern.text, path.join('/'), { pathname: true }) : fnmatch(pattern.text, name))) continue;
          child = {
            kind, mode: set.mode ?? Number(st.mode & 0o7777n), uid: set.uid ?? Number(st.uid), gid: set.gid ?? Number(st.gid),
            mtime: keepTime ? Number(st.mtimeMs / 1000n) : o.mtime,
          };
          if (kind === 'dir') child.entries = [];
          else if (kind === 'file') Object.assign(child, { content: hostFile(hp, Number(st.size)), size: Number(st.size), allocated: Number(st.blocks) * 512, source: hp });
          else if (kind === 'symlink') child.target = readlinkSync(hp);
          else if (kind === 'blockdev' || kind === 'chardev') Object.assign(child, devNumbers(st.rdev));
          if (existing) {
            // a folder met again (an earlier -type d glob, or an implicit one) is filled, not doubled
            if (existing.inode.kind !== 'dir' || kind !== 'dir') fail(`${path.join('/')}: File exists`);
            if (!declared.has(existing.inode)) Object.assign(existing.inode, { mode: child.mode, uid: child.uid, gid: child.gid, mtime: child.mtime });
            child = existing.inode;
          } else node.entries!.push({ name, inode: child });
          declared.add(child);
        }
        if (child.kind === 'dir' && recursive) scan(hp, child, path);
      }
    };
    scan(from, target, parts);
  }

  // hard links resolve against the finished tree, through other links
  for (const l of links) {
    lineNo = l.line;
    let node: SourceInode | undefined;
    let target = l.target;
    const seen = new Set<SourceInode>();
    for (;;) {
      node = root;
      for (const p of target) node = node?.kind === 'dir' ? node.entries!.find((x) => x.name === p)?.inode : undefined;
      if (!node) fail(`hard link ${l.path} -> ${l.target.join('/')}: No such file or directory`);
      if (!placeholders.has(node!)) break;
      if (seen.has(node!)) fail(`hard link ${l.path} -> ${l.target.join('/')}: Too many links (a loop)`);
      seen.add(node!);
      target = links.find((x) => x.entry.inode === node)!.target;
    }
    if (node!.kind === 'dir') fail(`hard link ${l.path} -> ${l.target.join('/')}: Operation not permitted (a directory)`);
    l.entry.inode = node!;
  }
}

/** glibc gnu_dev_major/minor of a dev_t. */
function devNumbers(d: bigint): { major: number; minor: number } {
  return { major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)), minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)) };
}
