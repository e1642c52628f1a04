/** A comparable description of a host tree or of an image read with our reader, for the oracle tests. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Squashfs } from '../../src/squashfs/read.js';

export interface Node {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  target?: string;
  dev?: string;
  sha256?: string;
  nlink?: number;
  xattrs?: Record<string, string>;
}

const kindOf = (st: import('node:fs').Stats) =>
  st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isBlockDevice() ? 'blockdev' : st.isCharacterDevice() ? 'chardev' : st.isFIFO() ? 'fifo' : 'socket';

/** getfattr -R dump: path (relative) → name → hex value. */
export function hostXattrs(dir: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const r = spawnSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', dir], { encoding: 'latin1' });
  if (r.error) return out;
  let cur: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      const p = Buffer.from(line.slice(8).replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8');
      cur = p === dir ? '/' : p.slice(dir.length);
      continue;
    }
    const eq = line.indexOf('=');
    if (cur && eq > 0 && /^(user|trusted|security)\./.test(line)) (out.get(cur) ?? out.set(cur, {}).get(cur)!)[line.slice(0, eq)] = line.slice(eq + 1).replace(/^0x/, '');
  }
  return out;
}

/** Every path under `dir` ("/" = dir itself). `withXattrs` reads them with getfattr. */
export function snapshotHost(dir: string, o: { withXattrs?: boolean; nlink?: boolean; rootMtime?: boolean } = {}): Map<string, Node> {
  const out = new Map<string, Node>();
  const xs = o.withXattrs ? hostXattrs(dir) : new Map();
  const visit = (p: string, rel: string) => {
    const st = lstatSync(p);
    const kind = kindOf(st);
    const n: Node = { kind, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    if (kind === 'file') {
      n.size = st.size;
      n.sha256 = createHash('sha256').update(readFileSync(p)).digest('hex');
      if (o.nlink) n.nlink = st.nlink;
    }
    if (kind === 'symlink') n.target = readlinkSync(p);
    if (kind === 'blockdev' || kind === 'chardev') n.dev = `${Math.floor(st.rdev / 256) % 4096}:${(st.rdev % 256) + Math.floor(st.rdev / 2 ** 20) * 256}`;
    if (xs.has(rel)) n.xattrs = xs.get(rel);
    out.set(rel, n);
    if (kind === 'dir') for (const c of readdirSync(p).sort()) visit(join(p, c), rel === '/' ? `/${c}` : `${rel}/${c}`);
  };
  visit(dir, '/');
  return out;
}

export async function snapshotImage(fs: Squashfs, o: { nlink?: boolean } = {}): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  for await (const { path, inode } of fs.walk()) {
    const st = await fs.stat(inode);
    const n: Node = { kind: inode.kind, mode: inode.mode, uid: st.uid, gid: st.gid, mtime: inode.mtime };
    if (inode.kind === 'file') {
      n.size = inode.size;
      const h = createHash('sha256');
      for await (const c of fs.createReadStream(inode)) h.update(c);
      n.sha256 = h.digest('hex');
      if (o.nlink) n.nlink = inode.nlink;
    }
    if (inode.kind === 'symlink') n.target = await fs.readlink(inode);
    if (inode.kind === 'blockdev' || inode.kind === 'chardev') n.dev = `${st.major}:${st.minor}`;
    const xs = await fs.xattrs(inode);
    if (xs.length) n.xattrs = Object.fromEntries(xs.map((x) => [x.name, Buffer.from(x.value).toString('hex')]));
    out.set(path, n);
  }
  return out;
}

/** Sorted [path, node] pairs, for deepEqual with readable diffs. */
export const entries = (m: Map<string, Node>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
