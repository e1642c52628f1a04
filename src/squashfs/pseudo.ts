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
 *   name x name=value              add an xattr (4.6; value raw, 0x hex, 0s base64)
 *
 * uid and gid are numbers or names (looked up in /etc/passwd and /etc/group, as getpwnam would).
 * In a `-pf` file blank lines and `#` comments are skipped and a trailing backslash continues a line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { SourceInode } from './tree.js';
import type { FileKind } from './layout.js';

export class PseudoError extends Error {
  override readonly name = 'PseudoError';
}

/** How definitions that reach outside the tree are served; the defaults use the host. */
export interface PseudoHost {
  /** Output of `/bin/sh -c command` (type f). */
  run?(command: string): Uint8Array;
  /** The inode of a host path (type l). */
  scan?(path: string): SourceInode;
  /** uid or gid of a name. */
  lookup?(name: string, kind: 'user' | 'group'): number | undefined;
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
    const t = line.trim();
    if (t && !t.startsWith('#')) out.push(t);
  }
  if (pending.trim()) out.push(pending.trim());
  return out;
}

function idTable(file: string): Map<string, number> {
  const m = new Map<string, number>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
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
  if (r.error) throw new PseudoError(`pseudo file command "${command}" failed: ${r.error.message}`);
  if (r.status !== 0) throw new PseudoError(`pseudo file command "${command}" exited with status ${r.status ?? r.signal}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}

function xattrValue(v: string): Uint8Array {
  if (/^0x/i.test(v)) return new Uint8Array(Buffer.from(v.slice(2), 'hex'));
  if (/^0s/i.test(v)) return new Uint8Array(Buffer.from(v.slice(2), 'base64'));
  return new TextEncoder().encode(v.replace(/^0t/i, ''));
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
    const eq = (w[2] ?? '').indexOf('=');
    if (eq <= 0) throw bad('xattr (want name=value)');
    const name = w[2]!.slice(0, eq);
    (node.xattrs ??= []).push({ name, value: xattrValue(w[2]!.slice(eq + 1)) });
    return;
  }

  const timed = typeWord !== typeWord.toLowerCase();
  const type = typeWord.toLowerCase();
  if (!'dmbcfsi'.includes(type)) throw new PseudoError(`pseudo type "${typeWord}" in "${def}" is not supported (d m b c f s i l L x and D M B C F S I)`);
  let k = 2;
  if (timed) {
    if (!/^\d+$/.test(w[k] ?? '')) throw bad('time');
    mtime = Number(w[k++]);
  }
  if (!/^[0-7]{1,4}$/.test(w[k] ?? '')) throw bad('mode');
  const mode = parseInt(w[k++]!, 8);
  const id = (s: string | undefined, kind: 'user' | 'group') => {
    if (s === undefined) throw bad(kind === 'user' ? 'uid' : 'gid');
    if (/^\d+$/.test(s)) return Number(s);
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
      node = { kind: type === 'b' ? 'blockdev' : 'chardev', ...attrs, major: Number(w[k]), minor: Number(w[k + 1]) };
      break;
    }
    case 's': {
      // mksquashfs 4.5 takes the rest of the line as written, quotes included
      const target = def.slice(ws[k - 1]!.end).trim();
      if (!target) throw bad('symlink target');
      node = { kind: 'symlink', ...attrs, mode: 0o777, target };
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
