/**
 * The feature tree of the oracle tests (research/proto/mkftree.sh, in TypeScript): every inode
 * type, edge sizes around the block size, sparse and all-hole files, hard links, long names and
 * symlinks, a 300-entry and an 8 KiB+ directory, xattrs, odd owners and modes, fixed times.
 * Parts that need root (device nodes, chown, trusted.* xattrs) are left out otherwise; `notes`
 * says what was skipped and why.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lutimesSync, mkdirSync, readdirSync, lstatSync, symlinkSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

export const isRoot = process.getuid?.() === 0;
export const TIME = 1_600_000_000;

/** Deterministic pseudo-random bytes (fast-check's generator, fixed seed). */
export function seeded(n: number, seed: number): Uint8Array {
  const [arr] = fc.sample(fc.uint8Array({ minLength: 1024, maxLength: 1024 }), { seed, numRuns: 1 });
  const out = new Uint8Array(n);
  // stretch 1 KiB of randomness with an LCG so large files stay cheap and incompressible
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    out[i] = arr![i % 1024]! ^ (x >>> 24);
  }
  return out;
}

function run(cmd: string, ...args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** Builds the tree under `dir` for a given block size; returns what could not be made. */
export function makeFeatureTree(dir: string, bs: number, opts: { xattrs?: boolean; devices?: boolean } = {}): { notes: string[] } {
  const notes: string[] = [];
  mkdirSync(dir, { recursive: true });
  const f = (name: string, data: Uint8Array | string) => writeFileSync(join(dir, name), data);
  f('empty', '');
  f('one', 'x');
  f('small100', seeded(100, 1));
  f('small100.dup', seeded(100, 1));
  f('block-1', seeded(bs - 1, 2));
  f('block', seeded(bs, 3));
  f('block+1', seeded(bs + 1, 4));
  f('onehalf', seeded(bs + bs / 2, 5));
  f('onehalf.dup', seeded(bs + bs / 2, 5));
  f('text', 'hello squashfs\n'.repeat(2000));
  // sparse: data, hole, data; and a file that is all hole
  f('sparse', seeded(bs, 6));
  truncateSync(join(dir, 'sparse'), 3 * bs);
  appendFileSync(join(dir, 'sparse'), seeded(bs, 7));
  f('allhole', '');
  truncateSync(join(dir, 'allhole'), 5 * bs + 17);
  f('hard.a', seeded(3000, 8));
  linkSync(join(dir, 'hard.a'), join(dir, 'hard.b'));
  linkSync(join(dir, 'hard.a'), join(dir, 'hard.c'));
  symlinkSync('small100', join(dir, 'symlink'));
  symlinkSync('x'.repeat(300), join(dir, 'longsymlink'));
  symlinkSync('/absolute/target', join(dir, 'abslink'));
  f('name with spaces', 'spaces\n');
  f('quote"name', 'q\n');
  f('ünïcødé', 'utf8\n');
  mkdirSync(join(dir, 'emptydir'));
  mkdirSync(join(dir, 'many'));
  for (let i = 1; i <= 300; i++) f(`many/f${String(i).padStart(3, '0')}`, i % 7 === 0 ? `content ${i}\n` : '');
  mkdirSync(join(dir, 'longnames'));
  for (let i = 1; i <= 60; i++) f(`longnames/${'n'.repeat(200)}${String(i).padStart(2, '0')}`, '');
  mkdirSync(join(dir, 'deep/a/b/c'), { recursive: true });
  f('deep/a/b/c/leaf', 'hi\n');
  if (run('mkfifo', join(dir, 'fifo')) === false) notes.push('mkfifo failed: no fifo');
  if (!run('python3', '-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(join(dir, 'sock'))})`)) notes.push('python3 missing: no socket');
  chmodSync(join(dir, 'small100.dup'), 0o4755);
  chmodSync(join(dir, 'emptydir'), 0o1777);
  chmodSync(join(dir, 'deep'), 0o2755);
  chmodSync(join(dir, 'one'), 0o600);
  if (isRoot && opts.devices !== false) {
    if (!run('mknod', join(dir, 'chardev'), 'c', '1', '3')) notes.push('mknod failed');
    run('mknod', join(dir, 'blkdev'), 'b', '300', '70000'); // major > 255, minor > 255: the new encoding
    chownSync(join(dir, 'small100'), 1000, 1000);
    chownSync(join(dir, 'onehalf'), 65534, 65534);
    chownSync(join(dir, 'block'), 12345, 54321);
  } else notes.push('not root: no device nodes, no chown');
  if (opts.xattrs !== false) {
    const set = (p: string, k: string, v: string) => run('setfattr', '-h', '-n', k, '-v', v, join(dir, p));
    if (!set('small100', 'user.comment', 'hello')) notes.push('setfattr failed: no xattrs (attr package, file system support)');
    else {
      set('small100.dup', 'user.comment', 'hello');
      set('onehalf', 'user.big', '0s' + Buffer.alloc(3000, 65).toString('base64'));
      set('onehalf.dup', 'user.big', '0s' + Buffer.alloc(3000, 65).toString('base64'));
      set('onehalf.dup', 'user.other', 'x');
      set('deep', 'user.dir', 'on a directory');
      if (isRoot) set('block', 'trusted.t', '0x01020304');
    }
  }
  // fixed times everywhere, symlinks included
  const walk = (p: string) => {
    for (const n of readdirSync(p)) {
      const q = join(p, n);
      if (lstatSync(q).isDirectory()) walk(q);
      lutimesSync(q, TIME, TIME);
    }
  };
  walk(dir);
  lutimesSync(dir, TIME, TIME);
  return { notes };
}
