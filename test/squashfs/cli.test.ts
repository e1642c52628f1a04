/**
 * The squashfs command line: nixpkgs' make-squashfs.nix and OpenWrt's image.mk command lines run
 * unchanged and agree with mksquashfs; determinism across runs and -processors; ls/cat/extract/
 * info/--offset against unsquashfs; exit codes; extraction never writes outside its folder.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, linkSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, root, skipWithout, requireTools, tempDir } from '../helpers.js';
import { isRoot, makeFeatureTree, seeded, TIME } from './fixture.js';
import { hasLibdeflate } from '../../src/squashfs/compressor.js';
import { entries, snapshotHost } from './snapshot.js';

const bin = join(root, 'bin/squashfs');
let tmp = '';

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(bin, args, { cwd: tmp, encoding: 'buffer', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr.toString() };
}
function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd: tmp, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
const sqfsdiffClean = (a: string, b: string) => {
  const d = spawnSync('sqfsdiff', ['-a', a, '-b', b], { encoding: 'utf8' });
  return d.stdout.split('\n').filter((l) => l && !/has an? (basic|extended) type$/.test(l));
};

before(() => {
  ensureBuilt('dist/cli/squashfs.js');
  tmp = tempDir('imgkit-sqfs-cli-');
  makeFeatureTree(join(tmp, 'tree'), 4096);
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('squashfs CLI basics', () => {
  it('--help exits 0, no command exits 2, unknown command or option exits 2', () => {
    assert.equal(run(['--help']).code, 0);
    assert.equal(run(['pack', '--help']).code, 0);
    assert.equal(run([]).code, 2);
    assert.equal(run(['frobnicate']).code, 2);
    const r = run(['pack', 'tree', 'x.sqfs', '-bogus']);
    assert.equal(r.code, 2);
    assert.match(r.err, /-bogus/);
    assert.ok(!existsSync(join(tmp, 'x.sqfs')));
    // -regex is supported: a bad expression or a "/"-prefixed exclude is a usage error, before any output
    const re = run(['pack', 'tree', 'x.sqfs', '-regex', '-e', 'f(']);
    assert.equal(re.code, 2);
    assert.match(re.err, /invalid regex f\( in exclude f\(/);
    assert.match(run(['pack', 'tree', 'x.sqfs', '-regex', '-e', '/one']).err, /\/, \.\/ and \.\.\/ prefixed excludes are not supported/);
    assert.ok(!existsSync(join(tmp, 'x.sqfs')));
    assert.equal(run(['pack', 'tree', 'x.sqfs', '-b', '3000']).code, 2);
    assert.equal(run(['pack', 'tree', 'x.sqfs', '-comp', 'xz', '-Xdict-size', '200%']).code, 2);
  });

  it('a missing image is exit 1, a non-squashfs file is exit 1 with a FormatError message', () => {
    assert.equal(run(['ls', 'nope.sqfs']).code, 1);
    writeFileSync(join(tmp, 'junk'), 'not a squashfs image at all, just some bytes that go on for a while'.repeat(3));
    const r = run(['info', 'junk']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^squashfs: Cannot parse superblock: magic/);
  });

  it('is deterministic: two runs and any -processors give the same bytes', () => {
    const args = (o: string, p: string) => ['pack', 'tree', o, '-noappend', '-quiet', '-comp', 'gzip', '-processors', p];
    assert.equal(run(args('d1.sqfs', '1')).code, 0);
    assert.equal(run(args('d2.sqfs', '2')).code, 0);
    assert.equal(run(args('d3.sqfs', '8')).code, 0);
    const a = readFileSync(join(tmp, 'd1.sqfs'));
    assert.ok(a.equals(readFileSync(join(tmp, 'd2.sqfs'))));
    assert.ok(a.equals(readFileSync(join(tmp, 'd3.sqfs'))));
  });

  it('appends to an existing image without -noappend (issue 8), and refuses to overwrite a non-image without it', () => {
    run(['pack', 'tree', 'ap.sqfs', '-quiet', '-noappend']);
    const r = run(['pack', 'tree', 'ap.sqfs', '-quiet']);
    assert.equal(r.code, 0, r.err);
    assert.match(run(['ls', 'ap.sqfs']).out.toString(), /^squashfs-root\/one_1$/m);
    writeFileSync(join(tmp, 'notimg'), 'x'.repeat(100));
    const n = run(['pack', 'tree', 'notimg', '-quiet']);
    assert.equal(n.code, 2);
    assert.match(n.err, /-noappend/);
  });
});

describe('squashfs CLI against squashfs-tools', { skip: skipWithout('mksquashfs', 'unsquashfs', 'sqfsdiff') }, () => {
  before(() => requireTools('mksquashfs', 'unsquashfs', 'sqfsdiff'));

  it("nixpkgs make-squashfs.nix's command line runs unchanged and agrees with mksquashfs", () => {
    // a store with two paths that share a hard-linked file (nix-store --optimise), and the registration
    const store = join(tmp, 'nix/store');
    const hello = join(store, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12'), glibc = join(store, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.39');
    mkdirSync(join(hello, 'bin'), { recursive: true });
    mkdirSync(join(glibc, 'lib'), { recursive: true });
    writeFileSync(join(hello, 'bin/hello'), seeded(200_000, 11));
    writeFileSync(join(glibc, 'lib/libc.so.6'), seeded(1_500_000, 12));
    writeFileSync(join(glibc, 'lib/COPYING'), 'GPL\n'.repeat(500));
    linkSync(join(glibc, 'lib/COPYING'), join(hello, 'COPYING'));
    symlinkSync('libc.so.6', join(glibc, 'lib/libc.so'));
    writeFileSync(join(tmp, 'nix-path-registration'), `${hello}\n${glibc}\n`);
    sh('touch', ['-h', '-d', '@1', hello, glibc, join(hello, 'bin'), join(hello, 'bin/hello'), join(glibc, 'lib'), join(glibc, 'lib/libc.so.6'), join(glibc, 'lib/libc.so'), join(glibc, 'lib/COPYING')]);
    const line = (out: string) => ['nix-path-registration', hello, glibc, out, '-no-hardlinks', '-keep-as-directory', '-all-root', '-b', '1048576', '-comp', 'xz', '-Xdict-size', '100%', '-processors', '2', '-root-mode', '0755'];
    const env = { SOURCE_DATE_EPOCH: '1' };
    const r = run(['pack', ...line('nixos-ours.img'), '-quiet'], env);
    assert.equal(r.code, 0, r.err);
    sh('mksquashfs', [...line('nixos-ref.img'), '-quiet', '-no-progress'], env);
    assert.deepEqual(sqfsdiffClean(join(tmp, 'nixos-ours.img'), join(tmp, 'nixos-ref.img')), []);
    // the synthesized root's time: mksquashfs stamps "now" clamped by SOURCE_DATE_EPOCH, so both are 1
    assert.equal(sh('unsquashfs', ['-lln', '-UTC', 'nixos-ours.img']), sh('unsquashfs', ['-lln', '-UTC', 'nixos-ref.img']));
    // same superblock, except the size (liblzma versions differ by a few bytes)
    const s = (f: string) => sh('unsquashfs', ['-s', f]).replace(/^Filesystem size.*\n/m, '').replace(f, 'IMG');
    assert.equal(s('nixos-ours.img'), s('nixos-ref.img'));
  });

  it("OpenWrt's image.mk command line (patched -Xpreset/-Xe/-Xlc/-Xlp/-Xpb, pseudo /dev/console) runs unchanged", () => {
    const rootfs = join(tmp, 'tree');
    const openwrt = ['-nopad', '-noappend', '-root-owned', '-comp', 'xz', '-Xpreset', '9', '-Xe', '-Xlc', '0', '-Xlp', '2', '-Xpb', '2', '-Xbcj', 'arm',
      '-b', '256k', '-p', '/dev d 755 0 0', '-p', '/dev/console c 600 0 0 5 1', '-processors', '1'];
    const r = run(['pack', rootfs, 'root.squashfs', ...openwrt, '-quiet'], { SOURCE_DATE_EPOCH: String(TIME) });
    assert.equal(r.code, 0, r.err);
    // upstream mksquashfs lacks OpenWrt's encoder patch: same line without the encoder-only knobs
    const upstream = openwrt.filter((a, i) => !['-Xpreset', '-Xe', '-Xlc', '-Xlp', '-Xpb'].includes(a) && !['-Xpreset', '-Xlc', '-Xlp', '-Xpb'].includes(openwrt[i - 1]!));
    sh('mksquashfs', [rootfs, 'root-ref.squashfs', ...upstream, '-quiet', '-no-progress'], { SOURCE_DATE_EPOCH: String(TIME) });
    assert.deepEqual(sqfsdiffClean(join(tmp, 'root.squashfs'), join(tmp, 'root-ref.squashfs')), []);
    const ls = run(['ls', '-l', 'root.squashfs']).out.toString();
    assert.match(ls, /^crw------- 0\/0 +5, {2}1 \S+ \S+ squashfs-root\/dev\/console$/m);
    assert.match(ls, /^drwxr-xr-x 0\/0 .* squashfs-root\/dev$/m);
    // -nopad: the file ends at bytes_used, which OpenWrt's mtdsplit reads
    const info = JSON.parse(run(['info', '--json', 'root.squashfs']).out.toString());
    assert.equal(info.bytesUsed, lstatSync(join(tmp, 'root.squashfs')).size);
    assert.deepEqual(info.compressorOptions, { dictSize: 262_144, filters: 8 });
  });

  it('-Xlibdeflate: the files of mksquashfs\'s gzip image (sqfsdiff), no larger, other bytes, the same for any -processors, kept when appending', { skip: !hasLibdeflate() && !process.env.CI && 'built without libdeflate' }, () => {
    const args = (out: string, ...more: string[]) => ['pack', 'tree', out, '-noappend', '-quiet', '-comp', 'gzip', '-mkfs-time', '1', ...more];
    for (const p of ['1', '3']) {
      const r = run([...args(`ld${p}.sqfs`, '-Xlibdeflate', '-processors', p)]);
      assert.equal(r.code, 0, r.err);
    }
    run(args('zl.sqfs'));
    sh('mksquashfs', ['tree', 'ref-gz.sqfs', '-noappend', '-quiet', '-no-progress', '-comp', 'gzip', '-mkfs-time', '1']);
    const ld = readFileSync(join(tmp, 'ld1.sqfs')), ref = readFileSync(join(tmp, 'ref-gz.sqfs'));
    assert.ok(ld.equals(readFileSync(join(tmp, 'ld3.sqfs'))), 'the same bytes with 1 and 3 processors');
    assert.ok(!ld.equals(readFileSync(join(tmp, 'zl.sqfs'))), 'libdeflate, not zlib, deflated the blocks');
    assert.ok(readFileSync(join(tmp, 'zl.sqfs')).equals(ref), 'without the option the image is mksquashfs\'s');
    assert.deepEqual(sqfsdiffClean(join(tmp, 'ld1.sqfs'), join(tmp, 'ref-gz.sqfs')), []);
    const used = (f: string) => Number(/Filesystem size (\d+) bytes/.exec(sh('unsquashfs', ['-s', f]))![1]);
    assert.ok(used('ld1.sqfs') <= used('ref-gz.sqfs') * 1.01, `${used('ld1.sqfs')} bytes against mksquashfs's ${used('ref-gz.sqfs')}`);
    // appending: the image's gzip settings, with libdeflate's blocks for what is added
    for (const [img, x] of [['ap-ld.sqfs', ['-Xlibdeflate']], ['ap-zl.sqfs', []]] as const) {
      assert.equal(run(args(img)).code, 0);
      const r = run(['pack', 'tree/deep', img, '-quiet', '-mkfs-time', '1', ...x]);
      assert.equal(r.code, 0, r.err);
    }
    assert.deepEqual(sqfsdiffClean(join(tmp, 'ap-ld.sqfs'), join(tmp, 'ap-zl.sqfs')), []);
    assert.ok(!readFileSync(join(tmp, 'ap-ld.sqfs')).equals(readFileSync(join(tmp, 'ap-zl.sqfs'))));
    // usage: gzip only, no window or strategy; without the addon a clear error and no image
    for (const bad of [['-comp', 'xz', '-Xlibdeflate'], ['-comp', 'gzip', '-Xlibdeflate', '-Xwindow-size', '12'], ['-comp', 'gzip', '-Xlibdeflate', '-Xstrategy', 'filtered']]) {
      const r = run(['pack', 'tree', 'bad.sqfs', '-noappend', ...bad]);
      assert.equal(r.code, 2, bad.join(' '));
      assert.match(r.err, /-Xlibdeflate/);
    }
    const off = run(args('bad.sqfs', '-Xlibdeflate'), { IMGKIT_NATIVE: '0' });
    assert.equal(off.code, 1);
    assert.match(off.err, /-Xlibdeflate: libdeflate is not available/);
    assert.ok(!existsSync(join(tmp, 'bad.sqfs')));
  });

  it('info words every compressor option block as unsquashfs -s does', () => {
    for (const c of [['gzip', '-Xcompression-level', '6'], ['gzip', '-Xstrategy', 'filtered,huffman_only', '-Xwindow-size', '12'], ['xz', '-Xbcj', 'x86,arm', '-Xdict-size', '50%'],
      ['xz', '-Xdict-size', '50%'], ['lz4', '-Xhc'], ['lz4'], ['zstd', '-Xcompression-level', '3'], ['lzo', '-Xalgorithm', 'lzo1x_1'], ['lzo', '-Xcompression-level', '5'],
      ['gzip', '-no-fragments', '-no-xattrs', '-no-exports', '-noI', '-noD']]) {
      sh('mksquashfs', ['tree', 'opt.sqfs', '-noappend', '-quiet', '-no-progress', '-comp', ...c]);
      assert.equal(run(['info', 'opt.sqfs']).out.toString(), sh('unsquashfs', ['-s', 'opt.sqfs']), c.join(' '));
    }
  });

  it('-info prints mksquashfs 4.5.1\'s lines (-processors 1 order): sizes, DUPLICATE, LINK, inode references', () => {
    const args = (o: string, ...more: string[]) => ['tree', o, '-noappend', '-info', '-quiet', '-b', '4K', ...more];
    // uncompressed inode table: the same references; compressed, zlib builds differ in block sizes, not offsets
    for (const extra of [['-noI'], ['-always-use-fragments', '-no-sparse']]) {
      const mine = run(['pack', ...args('info-o.sqfs', ...extra)]);
      assert.equal(mine.code, 0, mine.err);
      const ref = sh('mksquashfs', [...args('info-m.sqfs', ...extra), '-processors', '1']);
      const offsets = (t: string) => t.replace(/inode 0x([0-9a-f]+)/g, (_, h: string) => `inode +${parseInt(h, 16) % 0x1_0000}`);
      assert.equal(extra[0] === '-noI' ? mine.out.toString() : offsets(mine.out.toString()), extra[0] === '-noI' ? ref : offsets(ref), extra.join(' '));
    }
    const text = run(['pack', ...args('info-o.sqfs', '-noI')]).out.toString();
    assert.match(text, /^file \/small100\.dup, uncompressed size 100 bytes DUPLICATE$/m);
    assert.match(text, /^file \/empty, uncompressed size 0 bytes $/m);
    assert.match(text, /^file \/\S+, uncompressed size \d+ bytes LINK$/m);
    assert.match(text, /\ndirectory \/ inode 0x[0-9a-f]+\n$/);
  });

  it('lzma (id 2): our image is read by unsquashfs, and by us', () => {
    const r = run(['pack', 'tree', 'lzma.sqfs', '-noappend', '-quiet', '-comp', 'lzma']);
    assert.equal(r.code, 0, `exit ${r.code} (signal ${r.signal}): ${r.err}`);
    assert.match(sh('unsquashfs', ['-s', 'lzma.sqfs']), /^Compression lzma$/m);
    sh('unsquashfs', ['-no-progress', '-d', 'lzma-x', 'lzma.sqfs']);
    assert.ok(readFileSync(join(tmp, 'lzma-x/onehalf')).equals(readFileSync(join(tmp, 'tree/onehalf'))));
    assert.ok(run(['cat', 'lzma.sqfs', 'onehalf']).out.equals(readFileSync(join(tmp, 'tree/onehalf'))));
  });

  it('ls -l, cat, info and --offset agree with unsquashfs', () => {
    sh('mksquashfs', ['tree', 'ref.sqfs', '-noappend', '-quiet', '-no-progress', '-comp', 'zstd']);
    const ours = run(['ls', '-l', 'ref.sqfs']).out.toString().split('\n');
    const theirs = sh('unsquashfs', ['-lln', '-UTC', 'ref.sqfs']).split('\n');
    assert.equal(ours.length, theirs.length);
    ours.forEach((l, i) => {
      if (!/^[bc]/.test(l)) assert.equal(l, theirs[i]);
    });
    if (isRoot) assert.ok(ours.some((l) => / 300,70000 .*\/blkdev$/.test(l)), 'device numbers decoded the Linux way');
    assert.equal(run(['ls', 'ref.sqfs', 'deep']).out.toString(), sh('unsquashfs', ['-l', 'ref.sqfs', 'deep']).split('\n').filter((l) => l.startsWith('squashfs-root')).join('\n') + '\n');
    assert.ok(run(['cat', 'ref.sqfs', 'onehalf']).out.equals(readFileSync(join(tmp, 'tree/onehalf'))));
    assert.ok(run(['cat', 'ref.sqfs', '/sparse']).out.equals(readFileSync(join(tmp, 'tree/sparse'))));
    assert.equal(run(['cat', 'ref.sqfs', 'deep']).code, 1);
    assert.equal(run(['cat', 'ref.sqfs', 'missing']).code, 1);
    assert.equal(run(['info', 'ref.sqfs']).out.toString(), sh('unsquashfs', ['-s', 'ref.sqfs']));
    // an image inside a firmware blob
    writeFileSync(join(tmp, 'fw.bin'), Buffer.concat([Buffer.alloc(4096 + 100, 0xaa), readFileSync(join(tmp, 'ref.sqfs'))]));
    assert.equal(run(['ls', '-l', '--offset', '0x1064', 'fw.bin']).out.toString(), ours.join('\n'));
    assert.equal(run(['ls', 'fw.bin']).code, 1);
  });
});

describe('squashfs extract', () => {
  before(() => assert.equal(run(['pack', 'tree', 'ex.sqfs', '-noappend', '-quiet']).code, 0));
  it('extracts everything the way the source was (owners when root)', () => {
    const r = run(['extract', 'ex.sqfs', 'out']);
    assert.equal(r.code, 0, r.err);
    const want = snapshotHost(join(tmp, 'tree'), { withXattrs: true, nlink: true });
    const got = snapshotHost(join(tmp, 'out'), { withXattrs: true, nlink: true });
    want.delete('/sock'); // Node cannot create sockets: skipped with a warning
    if (!isRoot) for (const [k, v] of want) if (v.kind === 'chardev' || v.kind === 'blockdev') want.delete(k);
    assert.deepEqual(entries(got), entries(want));
    assert.match(r.err, /sock: sockets cannot be created/);
  });

  it('extracts one subtree', () => {
    const r = run(['extract', 'ex.sqfs', 'sub', 'deep/a']);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(join(tmp, 'sub/deep/a/b/c/leaf'), 'utf8'), 'hi\n');
    assert.deepEqual(readdirSync(join(tmp, 'sub')), ['deep']);
  });

  it('-quiet prints nothing on success; -no-progress and -n are taken; unknown options stay usage mistakes', () => {
    for (const q of ['-q', '-quiet', '--quiet']) {
      const r = run(['extract', q, 'ex.sqfs', `quiet${q}`, 'deep']);
      assert.equal(r.code, 0, r.err.toString());
      assert.equal(r.err.toString(), '', q);
    }
    for (const n of ['-n', '-no-progress', '--no-progress']) {
      const r = run(['extract', n, 'ex.sqfs', `np${n}`, 'deep']);
      assert.equal(r.code, 0, r.err.toString());
      assert.match(r.err.toString(), /^\d+ files, \d+ directories/, n);
    }
    assert.equal(run(['extract', '-x', 'ex.sqfs', 'bad-opt']).code, 2);
  });

  it('control characters in names reach the terminal in hex, in a warning and in a usage error', () => {
    const name = 'a\x1b[2Jb\u009bc';
    assert.equal(run(['pack', '-', 'ctl.sqfs', '-noappend', '-quiet', '-p', `${name} i 644 0 0 s`]).code, 0);
    const r = run(['extract', '-n', 'ctl.sqfs', 'ctl-out']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^squashfs: warning: \/a\\x1b\[2Jb\\x9bc: sockets cannot be created, skipped\n/);
    const u = run(['pack', '-', 'ctl2.sqfs', '-noappend', '-quiet', '-p', `${name} s 644 0 0`]);
    assert.equal(u.code, 2);
    assert.equal(u.err.split('\n')[0], 'squashfs: bad symlink target in pseudo definition "a\\x1b[2Jb\\x9bc s 644 0 0"');
  });

  // util-linux's script(1) gives the command a terminal
  const hasScript = spawnSync('script', ['--version']).status === 0;
  it('on a terminal draws a progress bar of entries and bytes, ending at the image\'s inode count; not with -no-progress', { skip: !hasScript && 'script(1) is not installed' }, () => {
    const inTty = (args: string) => spawnSync('script', ['-qec', `"${bin}" extract ${args}`, '/dev/null'], { cwd: tmp, encoding: 'utf8', env: { ...process.env, COLUMNS: '100' } });
    const r = inTty('ex.sqfs tty-out');
    assert.equal(r.status, 0, r.stdout);
    const inodes = Number(/inodes (\d+)/.exec(run(['info', 'ex.sqfs']).out.toString())?.[1] ?? /"inodes": (\d+)/.exec(run(['info', '--json', 'ex.sqfs']).out.toString())?.[1]);
    assert.ok(inodes > 5);
    const bar = r.stdout.split('\r').filter((l) => l.startsWith('['));
    assert.ok(bar.length >= 1, JSON.stringify(r.stdout));
    assert.match(bar.at(-1)!, new RegExp(`^\\[=+\\] \\d+/${inodes} entries [\\d.]+ MiB 100% ETA 0:00 `));
    const sub = inTty('ex.sqfs tty-sub deep');
    assert.match(sub.stdout, /\r\d+ entries [\d.]+ MiB /, 'a subtree: counts without a total');
    const quiet = inTty('-no-progress ex.sqfs tty-np');
    assert.doesNotMatch(quiet.stdout, /entries/);
  });

  it('refuses to write through a symlinked parent that points outside the folder', () => {
    mkdirSync(join(tmp, 'victim'));
    mkdirSync(join(tmp, 'trap'));
    symlinkSync(join(tmp, 'victim'), join(tmp, 'trap/deep'));
    const r = run(['extract', 'ex.sqfs', 'trap']);
    // the planted link is replaced by a real directory, never followed
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(join(tmp, 'victim')), []);
    assert.ok(lstatSync(join(tmp, 'trap/deep')).isDirectory());
  });
});
