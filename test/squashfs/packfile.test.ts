/**
 * gensquashfs pack files (`squashfs pack IMG -pack-file FILE [-pack-dir DIR]`): every entry type,
 * quoting, implicit folders, hard links resolved after the whole file, glob options; bad lines are
 * exit 1 with FILE:LINE in the message and no image. Differential: gensquashfs 1.2.0 -F and ours
 * from the same pack file give the same `unsquashfs -lln` listing, sqfsdiff finds no difference
 * (times included) and hard links share an inode in both.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lutimesSync, mkdirSync, readdirSync, lstatSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { seeded } from './fixture.js';
import { applyPackFile, PackFileError } from '../../src/squashfs/packfile.js';
import type { SourceInode } from '../../src/squashfs/tree.js';

const bin = join(root, 'bin/squashfs');
let tmp = '';
const T = 1_000_000;
const OLD = 500_000;

function ours(args: string[], input?: string) {
  const r = spawnSync(bin, ['pack', ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: String(T) }, ...(input !== undefined && { input }) });
  return { code: r.status, err: r.stderr };
}
function sh(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: tmp, encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: String(T) } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const lln = (img: string) => sh('unsquashfs', ['-lln', '-UTC', img]);
const emptyRoot = (): SourceInode => ({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [] });
const child = (n: SourceInode, path: string): SourceInode | undefined =>
  path.split('/').filter(Boolean).reduce<SourceInode | undefined>((d, p) => d?.entries?.find((e) => e.name === p)?.inode, n);

/** Sets every time under `dir` (and `dir`) to `t`, so -keeptime results do not depend on when the test runs. */
function age(dir: string, t: number): void {
  for (const n of readdirSync(dir)) {
    const q = join(dir, n);
    if (lstatSync(q).isDirectory()) age(q, t);
    lutimesSync(q, t, t);
  }
  lutimesSync(dir, t, t);
}

// every entry type; hard links before their target and through another link; quoted names
const PACK = `# every entry type gensquashfs documents
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/sda 0660 0 6 b 8 0
nod /dev/loop300 0660 0 6 b 300 70000
dir /root 0700 0 0
link /bin/ls 0 0 0 /bin/busybox
link /bin/cp 0 0 0 bin/ls
file /bin/sh 0755 0 0 host/sh
file /bin/busybox 4755 0 0 host/busybox
file /etc/motd 0644 1000 100
slink /bin/link 0777 0 0 busybox
   pipe /run/fifo 0644 1 2
sock /run/sock 0600 3 4
file "/opt/my app/\\"special\\"/data" 0600 0 0 host/with space
dir /./opt//./ 0750 7 8
dir / 0755 0 0
`;

before(() => {
  ensureBuilt('dist/cli/squashfs.js');
  tmp = tempDir('imgkit-sqfs-packfile-');
  mkdirSync(join(tmp, 'host'));
  writeFileSync(join(tmp, 'host/sh'), '#!/bin/sh\n');
  writeFileSync(join(tmp, 'host/busybox'), seeded(300_000, 21));
  writeFileSync(join(tmp, 'host/with space'), 'data\n');
  mkdirSync(join(tmp, 'etc'));
  writeFileSync(join(tmp, 'etc/motd'), 'welcome\n');
  writeFileSync(join(tmp, 'pack.txt'), PACK);
  // a pack dir whose layout matches the image, for globs (gensquashfs 1.2.0 reads globbed files at their image path)
  const r = join(tmp, 'r');
  mkdirSync(join(r, 'usr/lib/sub'), { recursive: true });
  mkdirSync(join(r, 'usr/bin'));
  writeFileSync(join(r, 'usr/lib/liba.so.1'), 'a\n');
  writeFileSync(join(r, 'usr/lib/sub/libb.so.2'), seeded(5000, 22));
  writeFileSync(join(r, 'usr/lib/notes.txt'), 'notes\n');
  symlinkSync('liba.so.1', join(r, 'usr/lib/liba.so'));
  writeFileSync(join(r, 'usr/bin/sh'), 'sh\n');
  spawnSync('mkfifo', [join(r, 'usr/lib/fifo')]);
  age(r, OLD);
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('squashfs pack files (unit)', () => {
  it('builds every type: implicit parents 0755 0:0, quoted paths, "." dropped, hard links resolved after the file, slink mode 0777', () => {
    const r = emptyRoot();
    applyPackFile(r, PACK, { name: 'pack.txt', base: tmp, mtime: 42 });
    assert.deepEqual(r.entries!.map((e) => e.name).sort(), ['bin', 'dev', 'etc', 'opt', 'root', 'run']);
    const bin = child(r, 'bin')!;
    assert.deepEqual([bin.mode, bin.uid, bin.gid, bin.mtime], [0o755, 0, 0, 42]);
    assert.equal(child(r, 'bin/ls'), child(r, 'bin/busybox'));
    assert.equal(child(r, 'bin/cp'), child(r, 'bin/busybox'));
    assert.equal(child(r, 'bin/busybox')!.mode, 0o4755);
    assert.equal(child(r, 'bin/link')!.mode, 0o777);
    assert.equal(child(r, 'bin/link')!.target, 'busybox');
    const dev = child(r, 'dev/loop300')!;
    assert.deepEqual([dev.kind, dev.major, dev.minor, dev.gid], ['blockdev', 300, 70000, 6]);
    assert.equal(child(r, 'opt/my app/"special"/data')!.size, 5);
    assert.deepEqual([child(r, 'opt')!.mode, child(r, 'opt')!.uid], [0o750, 7]);
    assert.equal(child(r, 'etc/motd')!.source, join(tmp, 'etc/motd')); // no location: the image path, relative to the base
    assert.deepEqual([child(r, 'run/fifo')!.kind, child(r, 'run/sock')!.kind], ['fifo', 'socket']);
  });

  it('reports bad lines with the file name and line number', () => {
    const cases: [string, RegExp][] = [
      ['dir /a 0758 0 0', /^p:2: mode must be an octal number <= 07777/],
      ['dir /a 010000 0 0', /^p:2: mode must be/],
      ['dir /a 0755 root 0', /^p:2: uid & gid must be decimal numbers < 2\^32/],
      ['dir /a 0755 0 4294967296', /^p:2: uid & gid/],
      ['frob /a 0755 0 0', /^p:2: unknown entry type/],
      ['dir', /^p:2: unknown entry type/],
      ['file / 0644 0 0', /^p:2: cannot use \/ as argument for file/],
      ['slink /a 0777 0 0', /^p:2: missing argument for slink/],
      ['link /a 0 0 0', /^p:2: missing argument for link/],
      ['nod /a 0600 0 0 c 5', /^p:2: expected '<c\|b> major minor'/],
      ['nod /a 0600 0 0 x 1 2', /^p:2: unknown device type 'x'/],
      ['nod /a 0600 0 0 c 4096 0', /^p:2: device 4096:0 is out of range/],
      ['dir "/a 0755 0 0', /^p:2: error in entry description/],
      ['dir "/a"0755 0 0', /^p:2: error in entry description/],
      ['dir /a/../b 0755 0 0', /^p:2: error in entry description: "\.\." in the path/],
      ['dir /a 0755 0 0junk', /^p:2: error in entry description/],
      ['glob /a 0755 0 0 -bogus r', /^p:2: unknown glob option "-bogus"/],
      ['glob /a 0755 0 0 -type d', /^p:2: unknown glob option "-type"/],
      ['glob /a 0755 0 0 nothere', /^p:2: nothere: No such file or directory/],
      ['file /nope 0644 0 0', /^p:2: nope: No such file or directory/],
      ['file /f 0644 0 0 host', /^p:2: host: not a regular file/],
      ['link /l 0 0 0 /missing', /^p:2: hard link l -> missing: No such file or directory/],
      ['link /l 0 0 0 /dev', /^p:2: hard link l -> dev: Operation not permitted/],
      ['link /l 0 0 0 /m\nlink /m 0 0 0 /l', /^p:2: hard link l -> m: Too many links/],
      ['dir /x 0755 0 0\ndir /x 0700 0 0', /^p:3: x: File exists/],
      ['dir /dev 0700 0 0', /^p:2: dev: File exists/],
      ['file /f 0644 0 0 host/sh\ndir /f/x 0755 0 0', /^p:3: f\/x: Not a directory/],
      ['pipe /f 0644 0 0\nsock /f 0644 0 0', /^p:3: f: File exists/],
    ];
    for (const [line, want] of cases) {
      const r = emptyRoot();
      applyPackFile(r, 'dir /dev 0755 0 0\n', { name: 'p', base: tmp, mtime: 0 });
      assert.throws(() => applyPackFile(r, `# comment\n${line}\n`, { name: 'p', base: tmp, mtime: 0 }), (e: unknown) => e instanceof PackFileError && want.test(e.message), line);
    }
  });

  it('glob: -type narrows then adds, folders left out are entered where the image has them, -name/-path/-nonrecursive, "*" takes the file\'s own ids', () => {
    const r = emptyRoot();
    const o = { name: 'g', base: join(tmp, 'r'), mtime: 9 };
    applyPackFile(r, 'glob /usr 0750 1 2 -type d usr\nglob /usr * * * -type f -type l -keeptime -name "lib*" usr\n', o);
    assert.deepEqual(child(r, 'usr/lib')!.entries!.map((e) => e.name).sort(), ['liba.so', 'liba.so.1', 'sub']);
    assert.deepEqual(child(r, 'usr/lib/sub')!.entries!.map((e) => e.name), ['libb.so.2']);
    assert.deepEqual([child(r, 'usr/lib')!.mode, child(r, 'usr/lib')!.uid, child(r, 'usr/lib')!.mtime], [0o750, 1, 9]);
    const so = child(r, 'usr/lib/liba.so.1')!;
    assert.deepEqual([so.uid, so.gid, so.mtime], [process.getuid!(), process.getgid!(), OLD]);
    const r2 = emptyRoot();
    applyPackFile(r2, 'glob /x 0644 0 0 -nonrecursive -- usr\nglob /y 0644 0 0 -path "y/lib/*.so*" usr\n', o);
    assert.deepEqual(child(r2, 'x')!.entries!.map((e) => e.name).sort(), ['bin', 'lib']);
    assert.deepEqual(child(r2, 'x/lib')!.entries, []);
    // -path rejects "y/bin" and "y/lib" themselves, so nothing below them is reached
    assert.deepEqual(child(r2, 'y')!.entries, []);
  });

  it('glob reads files where it found them, not at their image path (squashfs-tools-ng 72f9464)', () => {
    const r = emptyRoot();
    applyPackFile(r, 'glob /lib 0644 0 0 -type f r/usr/lib\n', { name: 'g', base: tmp, mtime: 0 });
    assert.equal(child(r, 'lib/liba.so.1')!.source, join(tmp, 'r/usr/lib/liba.so.1'));
  });
});

describe('squashfs pack -pack-file (CLI)', () => {
  it('needs no source; bad lines exit 1 with FILE:LINE and leave no image', () => {
    assert.equal(ours(['alone.sqfs', '-noappend', '-quiet', '-pack-file', 'pack.txt']).code, 0);
    writeFileSync(join(tmp, 'bad.txt'), 'dir /a 0755 0 0\n\n# fine so far\nnod /a/b 0600 0 0 q 1 2\n');
    const r = ours(['bad.sqfs', '-noappend', '-quiet', '-pack-file', 'bad.txt']);
    assert.equal(r.code, 1);
    assert.equal(r.err, "squashfs: bad.txt:4: unknown device type 'q'\n");
    assert.ok(!existsSync(join(tmp, 'bad.sqfs')));
    assert.equal(ours(['x.sqfs', '-pack-dir', 'r']).code, 2);
    assert.equal(ours(['x.sqfs', '-noappend']).code, 2);
  });

  it('adds to scanned sources (a dir line re-owns a scanned folder; an existing file is an error), before -p definitions, from standard input', () => {
    assert.equal(ours(['r', 'with.sqfs', '-noappend', '-quiet', '-pack-file', '-', '-p', 'usr/motd m 644 1 1'], 'dir /usr 0700 5 5\nfile /usr/motd 0600 0 0 etc/motd\n').code, 0);
    const l = lln('with.sqfs');
    assert.match(l, /^drwx------ 5\/5 .* squashfs-root\/usr$/m);
    assert.match(l, /^-rw-r--r-- 1\/1 +8 .* squashfs-root\/usr\/motd$/m);
    assert.match(l, /squashfs-root\/usr\/lib\/liba\.so\.1$/m);
    writeFileSync(join(tmp, 'clash.txt'), 'file /usr/bin/sh 0755 0 0 host/sh\n');
    const r = ours(['r', 'clash.sqfs', '-noappend', '-quiet', '-pack-file', 'clash.txt']);
    assert.equal(r.code, 1);
    assert.match(r.err, /clash\.txt:1: usr\/bin\/sh: File exists/);
  });
});

describe('squashfs pack files against gensquashfs', { skip: skipWithout('gensquashfs', 'unsquashfs', 'sqfsdiff', 'rdsquashfs') }, () => {
  before(() => requireTools('gensquashfs', 'unsquashfs', 'sqfsdiff', 'rdsquashfs'));
  const same = (ng: string, me: string) => {
    assert.equal(lln(me), lln(ng));
    const d = spawnSync('sqfsdiff', ['-T', '-a', join(tmp, ng), '-b', join(tmp, me)], { encoding: 'utf8' });
    assert.equal(d.status, 0, d.stdout + d.stderr);
  };
  const inodeOf = (img: string, path: string) => /Inode number: (\d+)/.exec(sh('rdsquashfs', ['-s', path, img]))![1];

  it('every entry type, locations relative to the pack file\'s folder: same listing, contents, times and hard links', () => {
    mkdirSync(join(tmp, 'sub/host'), { recursive: true });
    for (const f of ['sh', 'busybox', 'with space']) writeFileSync(join(tmp, 'sub/host', f), f === 'busybox' ? seeded(300_000, 21) : f);
    mkdirSync(join(tmp, 'sub/etc'), { recursive: true });
    writeFileSync(join(tmp, 'sub/etc/motd'), 'welcome\n');
    writeFileSync(join(tmp, 'sub/pack.txt'), PACK);
    sh('gensquashfs', ['-q', '-c', 'gzip', '-F', 'sub/pack.txt', 'ng1.sqfs']);
    assert.equal(ours(['me1.sqfs', '-noappend', '-quiet', '-pack-file', 'sub/pack.txt']).code, 0);
    same('ng1.sqfs', 'me1.sqfs');
    assert.match(lln('me1.sqfs'), /^brw-rw---- 0\/6 .* squashfs-root\/dev\/loop300$/m);
    for (const img of ['ng1.sqfs', 'me1.sqfs']) {
      assert.equal(inodeOf(img, '/bin/ls'), inodeOf(img, '/bin/busybox'), img);
      assert.equal(inodeOf(img, '/bin/cp'), inodeOf(img, '/bin/busybox'), img);
    }
    // devices beyond 8 bits: rdsquashfs decodes them (unsquashfs -lln does not)
    assert.match(sh('rdsquashfs', ['-s', '/dev/loop300', 'me1.sqfs']), /300:70000/);
  });

  it('glob with -pack-dir: -type, -name, -keeptime, "*" ids, fifos and symlinks', () => {
    const globs = 'glob /usr 0755 0 0 -type d usr\nglob /usr * * * -type f -type l -keeptime -name "lib*" usr\nglob /usr 0700 5 6 -type p -- usr\nglob /usr 0640 0 0 -type f -path "usr/bin/*" usr\n';
    writeFileSync(join(tmp, 'glob.txt'), globs);
    sh('gensquashfs', ['-q', '-c', 'gzip', '-F', 'glob.txt', '-D', 'r', 'ng2.sqfs']);
    assert.equal(ours(['me2.sqfs', '-noappend', '-quiet', '-pack-file', 'glob.txt', '-pack-dir', 'r']).code, 0);
    same('ng2.sqfs', 'me2.sqfs');
    const l = lln('me2.sqfs');
    assert.match(l, /^prwx------ 5\/6 .* squashfs-root\/usr\/lib\/fifo$/m);
    assert.match(l, /^-rw-r----- 0\/0 .* squashfs-root\/usr\/bin\/sh$/m);
    assert.doesNotMatch(l, /notes\.txt/);
  });
});
