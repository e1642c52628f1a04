/**
 * Extraction to a host folder, as `unsquashfs -d DIR IMG [PATH]`, that never writes outside DIR:
 * names are single path components (the directory decoder rejects "", ".", "..", "/" and NUL),
 * every parent is checked to be a real directory inside DIR (not a symlink planted before or
 * during extraction), and files are created with O_EXCL after removing whatever was there.
 * Device nodes are made only when running as root; sockets cannot be made from Node and are skipped.
 */
import { spawn } from 'node:child_process';
import { link, lstat, lchown, lutimes, mkdir, open, chmod, realpath, rm, symlink, utimes } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { decodeRdev } from './layout.js';
import type { Squashfs } from './read.js';
import type { SquashfsInode } from './inode.js';

export interface ExtractOptions {
  /** Only this image path and what is under it (default: everything). */
  path?: string;
  /** Set owners (default: when running as root). */
  owners?: boolean;
  /** Restore xattrs with setfattr (default true). */
  xattrs?: boolean;
  onWarning?: (message: string) => void;
}

export interface ExtractResult {
  files: number;
  dirs: number;
  symlinks: number;
  devices: number;
  skipped: number;
}

const isRoot = () => process.getuid?.() === 0;

function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', rej);
    c.on('close', (code) => (code === 0 ? res() : rej(new Error(`${cmd} failed: ${err.trim()}`))));
    if (input !== undefined) c.stdin!.end(input);
  });
}

/** Extracts the image (or one subtree) into `dir`, creating it if needed. */
export async function extractSquashfs(fs: Squashfs, dir: string, o: ExtractOptions = {}): Promise<ExtractResult> {
  await mkdir(dir, { recursive: true });
  const top = await realpath(dir);
  const owners = o.owners ?? isRoot();
  const warn = o.onWarning ?? (() => {});
  const result: ExtractResult = { files: 0, dirs: 0, symlinks: 0, devices: 0, skipped: 0 };
  const linked = new Map<number, string>();
  const dirsDone: { path: string; inode: SquashfsInode }[] = [];
  const xattrDump: string[] = [];

  /** Refuses a parent that is not a real directory below `top`. */
  const checkParent = async (host: string) => {
    const parent = host.slice(0, host.lastIndexOf(sep));
    const st = await lstat(parent);
    if (!st.isDirectory() || st.isSymbolicLink()) throw Object.assign(new Error(`refusing to write through ${parent}: not a directory`), { code: 'EPERM' });
    const real = await realpath(parent);
    if (real !== top && !real.startsWith(top + sep)) throw Object.assign(new Error(`refusing to write outside ${top}: ${parent} resolves to ${real}`), { code: 'EPERM' });
  };
  const clear = async (host: string, keepDir: boolean) => {
    const st = await lstat(host).catch(() => undefined);
    if (!st) return;
    if (keepDir && st.isDirectory() && !st.isSymbolicLink()) return;
    await rm(host, { recursive: true, force: true });
  };

  // the folders on the way to a subtree, created one at a time so none can be a planted link
  const prefix = (o.path ?? '').split('/').filter((p) => p && p !== '.');
  for (let i = 1; i < prefix.length; i++) {
    const host = join(top, ...prefix.slice(0, i));
    await checkParent(host);
    await clear(host, true);
    await mkdir(host).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  for await (const { path, inode } of fs.walk(o.path ?? '/')) {
    const rel = path.split('/').filter(Boolean);
    for (const part of rel) if (part === '..' || part === '.' || part === '') throw Object.assign(new Error(`refusing unsafe name in ${path}`), { code: 'EPERM' });
    const host = rel.length ? join(top, ...rel) : top;
    if (host !== top) await checkParent(host);
    if (inode.kind !== 'dir' && inode.nlink > 1) {
      const first = linked.get(inode.inodeNumber);
      if (first) {
        await clear(host, false);
        await link(first, host);
        continue;
      }
      linked.set(inode.inodeNumber, host);
    }
    const st = await fs.stat(inode);
    switch (inode.kind) {
      case 'dir':
        if (host !== top) {
          await clear(host, true);
          await mkdir(host, { recursive: false }).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== 'EEXIST') throw e;
          });
        }
        dirsDone.push({ path: host, inode });
        result.dirs++;
        break;
      case 'file': {
        await clear(host, false);
        const fh = await open(host, 'wx', 0o600);
        try {
          let at = 0;
          for await (const chunk of fs.createReadStream(inode)) {
            if (!chunk.every((b) => b === 0)) await fh.write(chunk, 0, chunk.length, at);
            at += chunk.length;
          }
          await fh.truncate(at);
        } finally {
          await fh.close();
        }
        result.files++;
        break;
      }
      case 'symlink':
        await clear(host, false);
        await symlink(Buffer.from(inode.target!) as unknown as string, host);
        result.symlinks++;
        break;
      case 'blockdev':
      case 'chardev':
      case 'fifo':
        if (inode.kind !== 'fifo' && !isRoot()) {
          warn(`${path}: device nodes are extracted only as root, skipped`);
          result.skipped++;
          continue;
        }
        await clear(host, false);
        if (inode.kind === 'fifo') await run('mkfifo', ['-m', '600', host]);
        else {
          const { major, minor } = decodeRdev(inode.rdev);
          await run('mknod', ['-m', '600', host, inode.kind === 'blockdev' ? 'b' : 'c', String(major), String(minor)]);
          result.devices++;
        }
        break;
      case 'socket':
        warn(`${path}: sockets cannot be created, skipped`);
        result.skipped++;
        continue;
    }
    if (inode.kind !== 'dir') {
      if (owners) await lchown(host, st.uid, st.gid);
      if (inode.kind !== 'symlink') await chmod(host, inode.mode);
      await lutimes(host, inode.mtime, inode.mtime);
    }
    if (o.xattrs !== false && inode.xattr !== undefined) {
      const xs = await fs.xattrs(inode);
      xattrDump.push(`# file: ${escapeName(host)}`, ...xs.map((x) => `${x.name}=0x${Buffer.from(x.value).toString('hex')}`), '');
    }
  }
  // directories last, deepest first, so adding entries does not change their times
  for (const { path, inode } of dirsDone.reverse()) {
    const st = await fs.stat(inode);
    if (owners) await lchown(path, st.uid, st.gid);
    await chmod(path, inode.mode);
    await utimes(path, inode.mtime, inode.mtime);
  }
  if (xattrDump.length) {
    try {
      await run('setfattr', ['-h', '--restore=-'], xattrDump.join('\n') + '\n');
    } catch (e) {
      warn(`cannot set xattrs: ${(e as Error).message}`);
    }
  }
  return result;
}

/** getfattr --dump escaping for file names. */
const escapeName = (s: string) => s.replace(/[\\\n\r]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
