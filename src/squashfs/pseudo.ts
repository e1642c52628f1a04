/**
 * mksquashfs pseudo file definitions (`-p "def"`, USAGE-MKSQUASHFS §9), the subset part 1 needs for
 * OpenWrt's command line: `name d|b|c|s|i|m mode uid gid [...]`. Command-generated files (`f`),
 * `-pf` files, hard links (`l`, `L`) and the timed upper-case forms come with part 2.
 */
import type { SourceInode } from './tree.js';

export class PseudoError extends Error {
  override readonly name = 'PseudoError';
}

/** Splits a definition into words: double quotes group, backslash escapes. */
function words(def: string): string[] {
  const out: string[] = [];
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
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quoted) throw new PseudoError(`unterminated quote in pseudo definition "${def}"`);
  if (inWord) out.push(cur);
  return out;
}

const num = (s: string | undefined, what: string, def: string, base = 10): number => {
  if (s === undefined || !(base === 8 ? /^[0-7]+$/ : /^\d+$/).test(s)) throw new PseudoError(`bad ${what} "${s ?? ''}" in pseudo definition "${def}"`);
  return parseInt(s, base);
};

/** Applies one definition to the tree rooted at `root`, as mksquashfs does after scanning the sources. */
export function applyPseudo(root: SourceInode, def: string, mtime: number): void {
  const w = words(def);
  const [path, type] = w;
  if (path === undefined || type === undefined) throw new PseudoError(`pseudo definition "${def}" needs a name and a type`);
  const parts = path.split('/').filter(Boolean);
  const supported = 'dbcsim';
  if (!supported.includes(type) || type.length !== 1)
    throw new PseudoError(`pseudo type "${type}" in "${def}" is not supported yet (supported: ${supported.split('').join(' ')})`);
  const mode = num(w[2], 'mode', def, 8);
  const uid = num(w[3], 'uid', def), gid = num(w[4], 'gid', def);
  if (parts.length === 0) {
    if (type !== 'd' && type !== 'm') throw new PseudoError(`pseudo definition "${def}": the root can only be a directory`);
    Object.assign(root, { mode: mode & 0o7777, uid, gid });
    return;
  }
  let dir = root;
  for (const p of parts.slice(0, -1)) {
    const e = dir.entries?.find((x) => x.name === p);
    if (!e || e.inode.kind !== 'dir') throw new PseudoError(`pseudo definition "${def}": parent directory "${p}" does not exist`);
    dir = e.inode;
  }
  const name = parts[parts.length - 1]!;
  const existing = dir.entries!.find((x) => x.name === name);
  if (type === 'm') {
    if (!existing) throw new PseudoError(`pseudo definition "${def}": "${path}" does not exist`);
    Object.assign(existing.inode, { mode: mode & 0o7777, uid, gid });
    return;
  }
  let node: SourceInode;
  switch (type) {
    case 'd':
      if (existing?.inode.kind === 'dir') {
        Object.assign(existing.inode, { mode: mode & 0o7777, uid, gid });
        return;
      }
      node = { kind: 'dir', mode: mode & 0o7777, uid, gid, mtime, entries: [] };
      break;
    case 'b':
    case 'c':
      node = { kind: type === 'b' ? 'blockdev' : 'chardev', mode: mode & 0o7777, uid, gid, mtime, major: num(w[5], 'major', def), minor: num(w[6], 'minor', def) };
      break;
    case 's':
      if (w[5] === undefined) throw new PseudoError(`pseudo definition "${def}" needs a symlink target`);
      node = { kind: 'symlink', mode: 0o777, uid, gid, mtime, target: w[5] };
      break;
    default: {
      const t = w[5];
      if (t !== 's' && t !== 'f') throw new PseudoError(`pseudo definition "${def}": type i needs "s" or "f"`);
      node = { kind: t === 's' ? 'socket' : 'fifo', mode: mode & 0o7777, uid, gid, mtime };
    }
  }
  if (existing) existing.inode = node;
  else dir.entries!.push({ name, inode: node });
}
