/**
 * The writer's input: a tree of inodes, built from host directories (mksquashfs's source rules)
 * or by hand. Hard links are entries that share one `SourceInode` object.
 */
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { basename, join, resolve } from 'node:path';
import type { Payload, StreamPayload } from '../bytes/payload.js';
import type { DirectPayload } from './data.js';
import type { FileKind } from './layout.js';
import type { Xattr } from './xattr.js';
import { nativeCodecs } from '../codec/native.js';

export interface SourceInode {
  kind: FileKind;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  xattrs?: Xattr[];
  /** Directory entries (any order; the writer sorts them bytewise). */
  entries?: SourceEntry[];
  /** Symlink target. */
  target?: string;
  major?: number;
  minor?: number;
  /** File bytes and their size. */
  content?: Payload;
  /** Host path the inode was scanned from (for -sort and messages). */
  source?: string;
  /**
   * Appending: the file's data already lies in the image being appended to, where it stays
   * (block addresses and size words, fragment index in the old fragment table).
   */
  stored?: StoredData;
  size?: number;
  /**
   * Bytes the host file system allocated (st_blocks × 512). When it covers the size, the file was
   * not sparse on the host and, as mksquashfs does, the inode does not report its holes.
   */
  allocated?: number;
}

export interface StoredData {
  readonly startBlock: number;
  readonly blocks: readonly number[];
  readonly fragment: number | undefined;
  readonly fragmentOffset: number;
  readonly sparse: number;
}

export interface SourceEntry {
  name: string;
  inode: SourceInode;
}

/** How host files map to inodes (mksquashfs's source options). */
export interface ScanOptions {
  /** With one source directory: make it a child of the root instead of the root (-keep-as-directory). */
  keepAsDirectory?: boolean;
  /** Paths to leave out: absolute, relative to the working directory, or relative to a source (-e, -ef). */
  exclude?: readonly string[];
  /** Store hard links as separate inodes (-no-hardlinks). */
  noHardlinks?: boolean;
  /** Read xattrs (llistxattr with the native addon, else getfattr; default true; -no-xattrs). */
  xattrs?: boolean;
  /** Attributes of a synthesized root (several sources or -keep-as-directory). */
  rootDefaults?: { mode: number; uid: number; gid: number; mtime: number };
  onWarning?: (message: string) => void;
  /** Leaves out the entry at `rel` (its path relative to its source) when it returns true (-wildcards, -regex). */
  skip?: (rel: string, isDir: boolean) => boolean;
}

/** Largest read of a host file: big files stream through buffers of this size. */
const READ_CHUNK = 1 << 20;

/**
 * A host file's bytes, read when the writer gets to it. Synchronous reads: the writer reads one
 * file at a time while worker threads compress, and a page-cache read costs less than the
 * thread-pool hop. A file that changes size is an error, not a silently inconsistent image.
 * A class, not closures: a tree of 100k files keeps one of these per file.
 */
export function hostFile(path: string, size: number): StreamPayload & DirectPayload {
  return new HostFile(path, size);
}

/** Where a read past a file's end lands (it must read nothing). */
const ONE = new Uint8Array(1);

const changed = (path: string, how: string) => Object.assign(new Error(`${path}: file ${how} while being read`), { code: 'EIO' });

class HostFile implements StreamPayload, DirectPayload {
  constructor(readonly path: string, readonly size: number) {}

  /** Marks a host file for read-ahead (bytes/prefetch.ts). */
  get hostPath(): string {
    return this.path;
  }

  open(): { readFully(into: Uint8Array, position: number): void; checkEnd(end: number): void; close(): void } {
    const fd = openSync(this.path, 'r');
    const path = this.path;
    return {
      readFully(into: Uint8Array, position: number) {
        for (let got = 0; got < into.length; ) {
          const n = readSync(fd, into, got, into.length - got, position + got);
          if (n === 0) throw changed(path, 'shrank');
          got += n;
        }
      },
      checkEnd(end: number) {
        if (readSync(fd, ONE, 0, 1, end) !== 0) throw changed(path, 'grew');
      },
      close: () => closeSync(fd),
    };
  }

  readAll(into: Uint8Array): void {
    const { path, size } = this;
    const fd = openSync(path, 'r');
    try {
      // one byte more than the size where `into` has room: a read that stops short at the size is
      // the end of the file, with no second read to see that nothing follows
      const want = into.length > size ? size + 1 : size;
      let got = 0;
      for (;;) {
        const n = readSync(fd, into, got, want - got, got);
        got += n;
        if (got > size) throw changed(path, 'grew');
        if (got === size) break;
        if (n === 0) throw changed(path, 'shrank');
      }
      if (want === size && readSync(fd, ONE, 0, 1, size) !== 0) throw changed(path, 'grew');
    } finally {
      closeSync(fd);
    }
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    const { path, size } = this;
    const fd = openSync(path, 'r');
    try {
      for (let at = 0; at < size; ) {
        const buf = new Uint8Array(Math.min(READ_CHUNK, size - at));
        for (let got = 0; got < buf.length; ) {
          const n = readSync(fd, buf, got, buf.length - got, at + got);
          if (n === 0) throw changed(path, 'shrank');
          got += n;
        }
        at += buf.length;
        yield buf;
      }
      if (readSync(fd, ONE, 0, 1, size) !== 0) throw changed(path, 'grew');
    } finally {
      closeSync(fd);
    }
  }
}

const kindOf = (st: import('node:fs').BigIntStats): FileKind | undefined =>
  st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isBlockDevice() ? 'blockdev'
    : st.isCharacterDevice() ? 'chardev' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : undefined;

/** glibc gnu_dev_major/minor of a dev_t. */
const devMajor = (d: bigint): number => Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
const devMinor = (d: bigint): number => Number((d & 0xffn) | ((d >> 12n) & ~0xffn));

/**
 * Builds the tree mksquashfs would build from `sources`: one directory → its contents are the
 * root; several sources (or -keep-as-directory) → each becomes a root entry named after its last
 * component, clashes renamed `name_1`, `name_2`…
 */
export async function scanSources(sources: readonly string[], o: ScanOptions = {}): Promise<SourceInode> {
  if (sources.length === 0) throw new TypeError('Cannot scan: no sources');
  const excluded = new Set<string>();
  for (const e of o.exclude ?? []) {
    for (const cand of [resolve(e), ...sources.map((s) => join(s, e))]) {
      const st = lstatSync(cand, { bigint: true, throwIfNoEntry: false });
      if (st) excluded.add(`${st.dev}:${st.ino}`); // an exclude that matches nothing is not an error
    }
  }
  const skip = o.skip;
  const links = new Map<string, SourceInode>();
  const paths = new Map<SourceInode, string>();
  // one plain source: the addon's walk, where it can take it (the same tree, in a third of the time)
  const flat = sources.length === 1 && excluded.size === 0 && !skip ? nativeScan(sources[0]!, !o.noHardlinks, o.xattrs !== false, o.onWarning) : undefined;
  // synchronous calls: a scan is a long chain of dependent metadata reads, each a few µs from the
  // dentry cache, where a thread-pool round trip would cost ten times more (and grow malloc arenas)
  const scan = (path: string, rel: string): SourceInode | undefined => {
    const st = lstatSync(path, { bigint: true });
    const kind = kindOf(st);
    if (!kind) return undefined;
    const key = `${st.dev}:${st.ino}`;
    if (excluded.has(key) || (rel !== '' && skip?.(rel, kind === 'dir'))) return undefined;
    if (kind !== 'dir' && !o.noHardlinks && st.nlink > 1n) {
      const seen = links.get(key);
      if (seen) return seen;
    }
    const node: SourceInode = { kind, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeMs / 1000n) };
    if (kind !== 'dir' && !o.noHardlinks && st.nlink > 1n) links.set(key, node);
    paths.set(node, path);
    switch (kind) {
      case 'dir': {
        node.entries = [];
        for (const name of readdirSync(path)) {
          const child = scan(join(path, name), rel === '' ? name : `${rel}/${name}`);
          if (child) node.entries.push({ name, inode: child });
        }
        break;
      }
      case 'file':
        node.content = hostFile(path, Number(st.size));
        node.size = Number(st.size);
        node.allocated = Number(st.blocks) * 512;
        node.source = path;
        break;
      case 'symlink':
        node.target = readlinkSync(path);
        break;
      case 'blockdev':
      case 'chardev':
        node.major = devMajor(st.rdev);
        node.minor = devMinor(st.rdev);
        break;
    }
    return node;
  };
  const tops: { name: string; inode: SourceInode }[] = [];
  for (const s of sources) {
    const inode = flat ? flat.root : scan(s, '');
    if (inode) tops.push({ name: basename(resolve(s)), inode });
  }
  let root: SourceInode;
  if (tops.length === 1 && tops[0]!.inode.kind === 'dir' && !o.keepAsDirectory) root = tops[0]!.inode;
  else {
    const d = o.rootDefaults ?? { mode: 0o777, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: 0 };
    root = { kind: 'dir', mode: d.mode, uid: d.uid, gid: d.gid, mtime: d.mtime, entries: [] };
    const used = new Set<string>();
    for (const t of tops) {
      let name = t.name;
      for (let i = 1; used.has(name); i++) name = `${t.name}_${i}`;
      used.add(name);
      root.entries!.push({ name, inode: t.inode });
    }
  }
  if (o.xattrs !== false && !flat) await readHostXattrs(paths, o.onWarning);
  return root;
}

/**
 * A number read from a Float64Array as a small integer where it is one: stored in an object as
 * is, each would be a heap number of its own (33k inodes: 3.6 MB).
 */
const int = (v: number): number => (v === (v | 0) ? v | 0 : v);

const KINDS: readonly (FileKind | undefined)[] = [undefined, 'dir', 'file', 'symlink', 'blockdev', 'chardev', 'fifo', 'socket'];
/** native/scan.h: numbers per record, and the record kind naming an earlier record (a hard link). */
const SCAN_FIELDS = 11;
const SCAN_LINK = 8;

/**
 * scanSources' walk of one source by the native addon (native/scan.c): the tree the JavaScript
 * walk builds, xattrs included, or undefined where that walk must run (no addon, or anything it
 * would report or read differently).
 */
function nativeScan(source: string, hardlinks: boolean, xattrs: boolean, onWarning?: (m: string) => void): { root: SourceInode | undefined } | undefined {
  const got = nativeCodecs()?.scanTree?.(source, hardlinks, xattrs);
  if (!got) return undefined;
  const [rec, nameText, targetText, xnameText, xvals, xlens] = got;
  const names = nameText.split('\0');
  const targets = targetText.split('\0');
  const xnames = xnameText.split('\0');
  const nodes: SourceInode[] = [];
  // open directories: the node, its path, the entries still to come
  const stack: { node: SourceInode; path: string; left: number }[] = [];
  let name = 0, target = 0, x = 0, xat = 0;
  let root: SourceInode | undefined;
  for (let r = 0; r < rec.length / SCAN_FIELDS; r++) {
    const f = r * SCAN_FIELDS;
    const up = stack[stack.length - 1];
    const entry = up ? names[name++]! : '';
    // join() for the source's own entries normalizes the source path; below it, paths are normal already
    const path = !up ? source : stack.length === 1 ? join(up.path, entry) : `${up.path}/${entry}`;
    let node: SourceInode;
    if (rec[f] === SCAN_LINK) node = nodes[rec[f + 1]!]!;
    else {
      const kind = KINDS[rec[f]!]!;
      node = { kind, mode: int(rec[f + 1]!), uid: int(rec[f + 2]!), gid: int(rec[f + 3]!), mtime: int(rec[f + 4]!) };
      switch (kind) {
        case 'dir':
          node.entries = [];
          break;
        case 'file': {
          const size = int(rec[f + 5]!);
          node.content = hostFile(path, size);
          node.size = size;
          node.allocated = int(rec[f + 6]!);
          node.source = path;
          break;
        }
        case 'symlink':
          node.target = targets[target++]!;
          break;
        case 'blockdev':
        case 'chardev':
          node.major = int(rec[f + 8]!);
          node.minor = int(rec[f + 9]!);
          break;
      }
      for (let k = rec[f + 10]!; k > 0; k--, x++) addXattr(node, xnames[x]!, xvals.subarray(xat, (xat += xlens[x]!)), path, onWarning);
    }
    nodes.push(node);
    if (up) {
      up.node.entries!.push({ name: entry, inode: node });
      up.left--;
    } else root = node;
    if (rec[f] !== SCAN_LINK && node.kind === 'dir') stack.push({ node, path, left: rec[f + 7]! });
    while (stack.length && stack[stack.length - 1]!.left === 0) stack.pop();
  }
  return { root };
}

/** Gives `n` an xattr read from the host at `path`, as mksquashfs does: only user., trusted. and security. ones. */
function addXattr(n: SourceInode, name: string, value: Uint8Array, path: string, onWarning?: (m: string) => void): void {
  if (!/^(user|trusted|security)\./.test(name)) onWarning?.(`Unrecognised xattr prefix ${name} on ${path}, ignored`);
  else (n.xattrs ??= []).push({ name, value });
}

/**
 * Reads every xattr of the scanned paths: with the native addon's llistxattr, in the kernel's
 * order (mksquashfs's, so images match), otherwise with one `getfattr` run (Node has no xattr
 * calls), which sorts the names.
 */
async function readHostXattrs(paths: Map<SourceInode, string>, onWarning?: (m: string) => void): Promise<void> {
  if (paths.size === 0) return;
  const add = (n: SourceInode, name: string, value: Uint8Array) => addXattr(n, name, value, paths.get(n)!, onWarning);
  const list = nativeCodecs()?.listXattrs;
  if (list) {
    for (const [n, p] of paths) {
      let got: [string, Uint8Array][];
      try {
        got = list(p);
      } catch (e) {
        onWarning?.(`${(e as Error).message.replace(/^imgkit native: /, '')} of ${p}; it gets none`);
        continue;
      }
      for (const [name, value] of got) add(n, name, new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    }
    return;
  }
  const byPath = new Map<string, SourceInode>();
  for (const [n, p] of paths) byPath.set(p, n);
  const all = [...byPath.keys()];
  let out = '';
  try {
    for (let i = 0; i < all.length; i += 2000) out += await getfattr(all.slice(i, i + 2000));
  } catch (e) {
    onWarning?.(`cannot read xattrs (${(e as Error).message}); the image will have none`);
    return;
  }
  let cur: SourceInode | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = byPath.get(unescapeGetfattr(line.slice(8)));
      continue;
    }
    const eq = line.indexOf('=');
    if (!cur || eq < 0) continue;
    const name = unescapeGetfattr(line.slice(0, eq));
    const v = line.slice(eq + 1);
    const value = v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : Buffer.alloc(0);
    add(cur, name, new Uint8Array(value));
  }
}

function getfattr(paths: readonly string[]): Promise<string> {
  return new Promise((res, rej) => {
    const c = spawn('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.resume();
    c.on('error', rej);
    c.on('close', () => res(Buffer.concat(out).toString('latin1')));
  });
}

/** getfattr escapes unprintable bytes in names as \ooo. */
function unescapeGetfattr(s: string): string {
  const bytes = s.replace(/\\([0-7]{3}|\\)/g, (_, o: string) => (o === '\\' ? '\\' : String.fromCharCode(parseInt(o, 8))));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}
