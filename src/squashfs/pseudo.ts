/**
 * mksquashfs pseudo file definitions (`-p "def"`, `-pf FILE`; USAGE-MKSQUASHFS §9-10, 4.5/4.6):
 *
 *   name d mode uid gid            directory           name D time mode uid gid …  (upper case:
 *   name m mode uid gid            modify attributes    the same with an explicit mtime)
 *   name b|c mode uid gid maj min  block/char device
 *   name f mode uid gid command    regular file: stdout of `/bin/sh -c command` (rest of the line)
 *   name s mode uid gid target     symlink (mode ignored)
 *   name i mode uid gid s|f        socket or fifo
 *   name l hostpath                the host file, as if it were in a source
 *   name L pseudoname              hard link to an entry already in the image
 *   name x name=value              add an xattr (4.6; value raw, 0x hex, 0s base64, 0t with \ooo escapes)
 *   name R time mode uid gid length offset   regular file whose bytes are in the pseudo file's data
 *                                  section (what `unsquashfs -pf` and `squashfs unpack-pf` write)
 *
 * uid and gid are numbers or names (looked up in /etc/passwd and /etc/group, as getpwnam would).
 * In a `-pf` file blank lines and `#` comments are skipped and a trailing backslash continues a line.
 * The line `# START OF DATA - DO NOT MODIFY` ends the definitions; R offsets count from two bytes
 * after it (past the "#" line that follows), as mksquashfs 4.5's read_pseudo_file() does.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readInputSync, readTextSync } from '../bytes/input.js';
import type { Payload, StreamPayload } from '../bytes/payload.js';
import type { DirectPayload } from './data.js';
import type { SourceInode } from './tree.js';
import type { FileKind } from './layout.js';
import { shrankError } from '../bytes/errors.js';

/** A pseudo definition that cannot be read (a mistake in `-p` or a `-pf` file). */
export class PseudoError extends Error {
  override readonly name: string = 'PseudoError';
}

/**
 * A definition in a `-pf` file that cannot be used, or one whose command failed: bad input, not a
 * mistake in the command line (exit status 1 from the tools).
 */
export class PseudoInputError extends PseudoError {
  override readonly name: string = 'PseudoInputError';
  readonly exitCode = 1;
}

/** A definition that reads well but whose command (type f) failed. */
export class PseudoCommandError extends PseudoInputError {
  override readonly name = 'PseudoCommandError';
}

/** The largest uid, gid and time a squashfs inode holds (32 bits), and mksquashfs's device number limits. */
const U32_MAX = 0xffffffff, MAJOR_MAX = 0xfff, MINOR_MAX = 0xfffff;

/** How definitions that reach outside the tree are served; the defaults use the host. */
export interface PseudoHost {
  /** Output of `/bin/sh -c command` (type f). */
  run?(command: string): Uint8Array;
  /** The inode of a host path (type l). */
  scan?(path: string): SourceInode;
  /** uid or gid of a name. */
  lookup?(name: string, kind: 'user' | 'group'): number | undefined;
  /** `length` bytes at `offset` of the pseudo file's data section (type R); absent for -p definitions. */
  data?(offset: number, length: number): Payload;
  onWarning?(message: string): void;
}

/** Inodes made by definitions (a later `m` on one is ignored, as mksquashfs does). */
const created = new WeakSet<SourceInode>();

/** Splits a definition into words, each with the index just past it: double quotes group, backslash escapes. */
function words(def: string): { w: string; end: number }[] {
  const out: { w: string; end: number }[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < def.length; i++) {
    const c = def[i]!;
    if (c === '\\' && i + 1 < def.length) {
      cur += def[++i];
      inWord = true;
    } else if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(c)) {
      if (inWord) out.push({ w: cur, end: i });
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quoted) throw new PseudoError(`unterminated quote in pseudo definition "${def}"`);
  if (inWord) out.push({ w: cur, end: def.length });
  return out;
}

/** The definitions of a `-pf` file: comments and blank lines dropped, `\` continuations joined. */
export function parsePseudoFile(text: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = pending + raw;
    if (/(^|[^\\])(\\\\)*\\$/.test(line)) {
      pending = line.slice(0, -1);
      continue;
    }
    pending = '';
    // leading white space only: a symlink target or xattr value keeps its trailing spaces, as in mksquashfs
    const t = line.replace(/^\s+/, '');
    if (t && !t.startsWith('#')) out.push(t);
  }
  if (pending.trim()) out.push(pending.replace(/^\s+/, ''));
  return out;
}

function idTable(file: string): Map<string, number> {
  const m = new Map<string, number>();
  try {
    for (const line of readTextSync(file, 'squashfs', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^\d+$/.test(f[2]!)) m.set(f[0]!, Number(f[2]));
    }
  } catch { /* no such file: names do not resolve */ }
  return m;
}
let users: Map<string, number> | undefined, groups: Map<string, number> | undefined;
const hostLookup = (name: string, kind: 'user' | 'group'): number | undefined =>
  (kind === 'user' ? (users ??= idTable('/etc/passwd')) : (groups ??= idTable('/etc/group'))).get(name);

function hostRun(command: string): Uint8Array {
  const r = spawnSync('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 2 ** 31 - 1 });
  if (r.error) throw new PseudoCommandError(`pseudo file command "${command}" failed: ${r.error.message}`);
  if (r.status !== 0) throw new PseudoCommandError(`pseudo file command "${command}" exited with status ${r.status ?? r.signal}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}

/** An xattr value as mksquashfs 4.6's xattr_parse() reads it: 0x hex, 0s base64, 0t text with \ooo escapes, 0b raw, else raw. */
function xattrValue(v: string, bad: (what: string) => Error): Uint8Array {
  const body = v.slice(2);
  if (/^0[xtsb]/i.test(v) && body === '') throw bad('xattr (empty value after its 0x/0s/0t/0b prefix)');
  if (/^0x/i.test(v)) {
    if (!/^([0-9a-f]{2})+$/i.test(body)) throw bad('xattr hex value');
    return new Uint8Array(Buffer.from(body, 'hex'));
  }
  if (/^0s/i.test(v)) return new Uint8Array(Buffer.from(body, 'base64'));
  if (/^0t/i.test(v)) {
    const out: number[] = [];
    const raw = Buffer.from(body, 'utf8');
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] !== 0x5c) out.push(raw[i]!);
      else {
        const oct = raw.subarray(i + 1, i + 4).toString('latin1');
        if (!/^[0-3][0-7]{2}$/.test(oct)) throw bad('xattr 0t value (a backslash needs three octal digits)');
        out.push(parseInt(oct, 8));
        i += 3;
      }
    }
    return new Uint8Array(out);
  }
  return new TextEncoder().encode(/^0b/i.test(v) ? body : v);
}

/** Applies one definition to the tree rooted at `root`, as mksquashfs does after scanning the sources. */
export function applyPseudo(root: SourceInode, def: string, mtime: number, host: PseudoHost = {}): void {
  const ws = words(def);
  const w = ws.map((x) => x.w);
  const [path, typeWord] = w;
  if (path === undefined || typeWord === undefined || typeWord.length !== 1) throw new PseudoError(`pseudo definition "${def}" needs a name and a one-letter type`);
  const bad = (what: string) => new PseudoError(`bad ${what} in pseudo definition "${def}"`);
  const parts = path.split('/').filter((p) => p && p !== '.');
  if (parts.includes('..')) throw new PseudoError(`pseudo definition "${def}": ".." is not allowed in a name`);
  const lookupParent = (): SourceInode => {
    let dir = root;
    for (const p of parts.slice(0, -1)) {
      const e = dir.entries?.find((x) => x.name === p);
      if (!e || e.inode.kind !== 'dir') throw new PseudoError(`pseudo definition "${def}": parent directory "${p}" does not exist`);
      dir = e.inode;
    }
    return dir;
  };
  const find = (ps: string[]): SourceInode | undefined => {
    let n: SourceInode | undefined = root;
    for (const p of ps) n = n?.entries?.find((x) => x.name === p)?.inode;
    return n;
  };
  const place = (node: SourceInode) => {
    if (parts.length === 0) throw new PseudoError(`pseudo definition "${def}": the root can only be a directory`);
    const dir = lookupParent();
    const name = parts[parts.length - 1]!;
    const existing = dir.entries!.find((x) => x.name === name);
    if (existing) existing.inode = node;
    else dir.entries!.push({ name, inode: node });
    created.add(node);
  };

  if (typeWord === 'l' || typeWord === 'L') {
    if (w[2] === undefined) throw bad('target');
    let node: SourceInode | undefined;
    if (typeWord === 'L') {
      node = find(w[2].split('/').filter((p) => p && p !== '.'));
      if (!node) throw new PseudoError(`pseudo definition "${def}": "${w[2]}" does not exist in the image`);
      if (node.kind === 'dir') throw new PseudoError(`pseudo definition "${def}": cannot hard link a directory`);
    } else {
      if (!host.scan) throw new PseudoError(`pseudo definition "${def}": host files are not available here`);
      node = host.scan(w[2]);
    }
    place(node);
    return;
  }
  if (typeWord === 'x') {
    const node = find(parts);
    if (!node) throw new PseudoError(`pseudo definition "${def}": "${path}" does not exist`);
    // the rest of the line as written: the value's own escapes are xattr_parse()'s business
    const rest = def.slice(ws[1]!.end).trimStart();
    const eq = rest.indexOf('=');
    if (eq <= 0) throw bad('xattr (want name=value)');
    (node.xattrs ??= []).push({ name: rest.slice(0, eq), value: xattrValue(rest.slice(eq + 1), bad) });
    return;
  }

  const timed = typeWord !== typeWord.toLowerCase();
  const type = typeWord.toLowerCase();
  if (!'dmbcfsi'.includes(type) && typeWord !== 'R') throw new PseudoError(`pseudo type "${typeWord}" in "${def}" is not supported (d m b c f s i l L x and D M B C F S I R)`);
  let k = 2;
  if (timed) {
    if (!/^\d+$/.test(w[k] ?? '') || Number(w[k]) > U32_MAX) throw bad('time');
    mtime = Number(w[k++]);
  }
  if (!/^[0-7]{1,4}$/.test(w[k] ?? '')) throw bad('mode');
  const mode = parseInt(w[k++]!, 8);
  const id = (s: string | undefined, kind: 'user' | 'group') => {
    if (s === undefined) throw bad(kind === 'user' ? 'uid' : 'gid');
    if (/^\d+$/.test(s)) {
      if (Number(s) > U32_MAX) throw new PseudoError(`pseudo definition "${def}": ${kind === 'user' ? 'uid' : 'gid'} ${s} out of range (0 to ${U32_MAX})`);
      return Number(s);
    }
    const v = (host.lookup ?? hostLookup)(s, kind);
    if (v === undefined) throw new PseudoError(`pseudo definition "${def}": unknown ${kind} "${s}"`);
    return v;
  };
  const uid = id(w[k++], 'user');
  const gid = id(w[k++], 'group');
  const attrs = { mode, uid, gid, mtime };

  if (type === 'm') {
    const node = find(parts);
    if (!node) throw new PseudoError(`pseudo definition "${def}": "${path}" does not exist`);
    if (created.has(node)) {
      // mksquashfs 4.5: "already exists as a different pseudo definition. Ignoring"
      host.onWarning?.(`${path} already exists as a different pseudo definition, ignoring "${def}"`);
      return;
    }
    Object.assign(node, { mode, uid, gid }, timed ? { mtime } : {});
    return;
  }
  if (type === 'd') {
    const existing = find(parts);
    if (existing?.kind === 'dir') {
      Object.assign(existing, { mode, uid, gid }, timed ? { mtime } : {});
      return;
    }
    if (parts.length === 0) throw new PseudoError(`pseudo definition "${def}": the root must be a directory`);
    place({ kind: 'dir', ...attrs, entries: [] });
    return;
  }
  let node: SourceInode;
  switch (type) {
    case 'b':
    case 'c': {
      if (!/^\d+$/.test(w[k] ?? '') || !/^\d+$/.test(w[k + 1] ?? '')) throw bad('major/minor');
      if (Number(w[k]) > MAJOR_MAX) throw new PseudoError(`pseudo definition "${def}": major ${w[k]} out of range (0 to ${MAJOR_MAX})`);
      if (Number(w[k + 1]) > MINOR_MAX) throw new PseudoError(`pseudo definition "${def}": minor ${w[k + 1]} out of range (0 to ${MINOR_MAX})`);
      node = { kind: type === 'b' ? 'blockdev' : 'chardev', ...attrs, major: Number(w[k]), minor: Number(w[k + 1]) };
      break;
    }
    case 's': {
      // mksquashfs 4.5 takes the rest of the line as written, quotes included
      const target = def.slice(ws[k - 1]!.end).trimStart();
      if (!target) throw bad('symlink target');
      node = { kind: 'symlink', ...attrs, mode: 0o777, target };
      break;
    }
    case 'r': {
      if (!host.data) throw new PseudoError(`pseudo definition "${def}": 'R' definition can only be used in a pseudo file`);
      if (!/^\d+$/.test(w[k] ?? '') || !/^\d+$/.test(w[k + 1] ?? '') || w.length > k + 2) throw bad('file length or offset');
      if (!Number.isSafeInteger(Number(w[k])) || !Number.isSafeInteger(Number(w[k + 1]))) throw bad('file length or offset (too large)');
      const size = Number(w[k]);
      node = { kind: 'file', ...attrs, content: host.data(Number(w[k + 1]), size), size };
      break;
    }
    case 'f': {
      // the command is the rest of the line, as written
      const command = def.slice(ws[k - 1]!.end).trim();
      if (!command) throw bad('command');
      const content = (host.run ?? hostRun)(command);
      node = { kind: 'file', ...attrs, content, size: content.length };
      break;
    }
    default: {
      const t = w[k];
      if (t !== 's' && t !== 'f') throw new PseudoError(`pseudo definition "${def}": type i needs "s" or "f"`);
      node = { kind: (t === 's' ? 'socket' : 'fifo') as FileKind, ...attrs };
    }
  }
  place(node);
}

const DEMARKER = '# START OF DATA - DO NOT MODIFY';

/**
 * A `-pf` file's definitions and, when it has a data section, a reader for R definitions. A file
 * on disk is read only up to its data section; R contents are read from it when the image is written.
 */
export function readPseudoFile(path: string, stdin?: Uint8Array): { defs: string[]; data?: (offset: number, length: number) => Payload } {
  let bytes: Uint8Array = new Uint8Array(0);
  let fileSize = 0;
  let fd: number | undefined;
  if (!stdin) {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (st.isFile()) fileSize = st.size;
    else {
      // a pipe (`-pf <(…)`, /dev/stdin) or a device has no size to read up to: read it whole, within bounds
      closeSync(fd);
      fd = undefined;
      stdin = readInputSync(path, 'squashfs');
    }
  }
  if (stdin) {
    bytes = stdin;
    fileSize = stdin.length;
  }
  try {
    const marker = Buffer.from(DEMARKER, 'latin1');
    let searched = 0;
    for (;;) {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      // the demarker counts only as a whole line of its own (leading white space allowed)
      for (let at = buf.indexOf(marker, searched); at >= 0; at = buf.indexOf(marker, at + 1)) {
        const lineStart = buf.lastIndexOf(0x0a, at - 1) + 1;
        const end = at + marker.length;
        if (!/^[ \t\v\f\r]*$/.test(buf.subarray(lineStart, at).toString('latin1'))) continue;
        if (end < buf.length ? buf[end] !== 0x0a : fd !== undefined && buf.length < fileSize) continue;
        const text = buf.subarray(0, lineStart).toString('utf8');
        const dataStart = (end < buf.length ? end + 1 : end) + 2;
        const data = (offset: number, length: number): Payload => {
          if (dataStart + offset + length > fileSize) throw new PseudoError(`pseudo file ${path}: R data at ${offset}+${length} is past the end of the file`);
          return stdin ? stdin.subarray(dataStart + offset, dataStart + offset + length) : fileRange(path, dataStart + offset, length);
        };
        return { defs: parsePseudoFile(text), data };
      }
      if (fd === undefined || bytes.length >= fileSize) break;
      searched = Math.max(0, bytes.length - marker.length);
      const chunk = new Uint8Array(Math.min(1 << 20, fileSize - bytes.length));
      const n = readSync(fd, chunk, 0, chunk.length, bytes.length);
      if (n === 0) break;
      const grown = new Uint8Array(bytes.length + n);
      grown.set(bytes);
      grown.set(chunk.subarray(0, n), bytes.length);
      bytes = grown;
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const defs = parsePseudoFile(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  if (defs.some((d) => words(d)[1]?.w === 'R')) throw new PseudoError(`No START OF DATA demarker found in pseudo file ${path}`);
  return { defs };
}

/** `size` bytes at `start` of a host file, read when the writer gets to them. */
function fileRange(path: string, start: number, size: number): StreamPayload & DirectPayload {
  return {
    size,
    open() {
      const fd = openSync(path, 'r');
      return {
        readFully(into: Uint8Array, position: number) {
          for (let got = 0; got < into.length; ) {
            const n = readSync(fd, into, got, into.length - got, start + position + got);
            if (n === 0) throw shrankError(path);
            got += n;
          }
        },
        checkEnd() {},
        close: () => closeSync(fd),
      };
    },
    async *chunks() {
      const fd = openSync(path, 'r');
      try {
        for (let at = 0; at < size; ) {
          const buf = new Uint8Array(Math.min(1 << 20, size - at));
          for (let got = 0; got < buf.length; ) {
            const n = readSync(fd, buf, got, buf.length - got, start + at + got);
            if (n === 0) throw shrankError(path);
            got += n;
          }
          at += buf.length;
          yield buf;
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}
