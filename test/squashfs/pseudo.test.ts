/**
 * Issue 8: pseudo definitions (-p, -pf, every type incl. command-generated files and "-" as the
 * only source), -sort and -wildcards excludes. Differential: with -noI -noD -noF -noX our image is
 * byte for byte mksquashfs 4.5's; compressed, sqfsdiff and unsquashfs -lln agree. Device nodes and
 * ownership come from the definitions, so none of this needs root.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, root, skipWithout, tempDir } from '../helpers.js';
import { makeFeatureTree } from './fixture.js';
import { applyPseudo, parsePseudoFile, PseudoError } from '../../src/squashfs/pseudo.js';
import { matchComponent, wildcardExcluder } from '../../src/squashfs/select.js';
import type { SourceInode } from '../../src/squashfs/tree.js';

const bin = join(root, 'bin/squashfs');
const RAW = ['-noI', '-noD', '-noF', '-noX'];
const FIXED = ['-noappend', '-quiet', '-no-progress', '-all-time', '5', '-mkfs-time', '0'];
let tmp = '';

function ours(args: string[]): void {
  const r = spawnSync(bin, ['pack', ...args], { cwd: tmp, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}
function theirs(args: string[]): void {
  const r = spawnSync('mksquashfs', args, { cwd: tmp, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
}
const same = (a: string, b: string) => assert.ok(readFileSync(join(tmp, a)).equals(readFileSync(join(tmp, b))), `${a} and ${b} differ`);
const lln = (img: string) => spawnSync('unsquashfs', ['-lln', '-UTC', join(tmp, img)], { encoding: 'utf8' }).stdout;

const PSEUDO = `# every type mksquashfs 4.5 knows
/ d 755 0 0
dev d 755 0 0
dev/console c 600 0 0 5 1
dev/sda b 660 root 6 8 0
etc d 0755 root root
etc/key f 600 0 0 echo -n "secret"; printf '%s' ' key'
etc/motd F 1600000000 644 1000 1000 printf 'a\\nb\\n'
etc/big f 644 0 0 head -c 300000 /dev/zero | tr '\\0' 'x'
etc/link s 777 0 0 /etc/motd
etc/long\\ name S 1600000002 777 0 0 "target with spaces"
run D 1600000001 1777 0 0
run/fifo i 644 0 0 f
run/sock I 1600000003 600 7 7 s
run/host l host.txt
run/hard L etc/key
etc M 1600000004 0700 1 2
`;

before(() => {
  ensureBuilt('dist/cli/squashfs.js');
  tmp = tempDir('imgkit-sqfs-pseudo-');
  writeFileSync(join(tmp, 'host.txt'), 'from the host\n');
  writeFileSync(join(tmp, 'p.txt'), PSEUDO);
  makeFeatureTree(join(tmp, 'tree'), 4096, { xattrs: false, devices: false });
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('squashfs pseudo definitions (unit)', () => {
  it('parsePseudoFile drops comments and blank lines and joins continuations', () => {
    assert.deepEqual(parsePseudoFile('# c\n\na d 755 0 0\nb f 644 0 0 echo \\\n  hi\n'), ['a d 755 0 0', 'b f 644 0 0 echo   hi']);
  });
  it('builds every type, with names resolved and the command output as content', () => {
    const r: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [] };
    const host = { run: (c: string) => new TextEncoder().encode(`<${c}>`), lookup: (n: string) => (n === 'alice' ? 1000 : undefined) };
    for (const d of ['d d 750 alice 0', 'd/f f 644 0 0 echo  "a  b"', 'd/c C 7 600 0 0 1 3', 'd/f x user.k=0x6869', 'd/h L d/f', 'd/s s 1 2 3 /x']) applyPseudo(r, d, 9, host);
    const d = r.entries![0]!.inode;
    assert.equal(d.uid, 1000);
    const f = d.entries!.find((e) => e.name === 'f')!.inode;
    assert.equal(new TextDecoder().decode(f.content as Uint8Array), '<echo  "a  b">');
    assert.deepEqual([...f.xattrs![0]!.value], [0x68, 0x69]);
    assert.equal(d.entries!.find((e) => e.name === 'h')!.inode, f);
    const c = d.entries!.find((e) => e.name === 'c')!.inode;
    assert.deepEqual([c.kind, c.mtime, c.major, c.minor], ['chardev', 7, 1, 3]);
    assert.throws(() => applyPseudo(r, 'nope/x d 755 0 0', 0, host), PseudoError);
    assert.throws(() => applyPseudo(r, 'x d 755 bob 0', 0, host), /unknown user "bob"/);
    assert.throws(() => applyPseudo(r, 'x q 755 0 0', 0, host), PseudoError);
  });
  it('-wildcards patterns: anchored, "... " at any depth, FNM_PERIOD', () => {
    const ex = wildcardExcluder(['... lib*.a', 'man/man[1-9]', 'x/*']);
    assert.ok(ex('usr/lib/libc.a') && ex('libm.a') && ex('man/man3') && ex('x/y'));
    assert.ok(!ex('usr/man/man3') && !ex('man/mann') && !ex('x') && !ex('x/y/z') && !ex('usr/lib/libc.so'));
    assert.ok(!matchComponent('*', '.hidden') && matchComponent('.*', '.hidden') && matchComponent('[!a]b', 'cb'));
  });
});

describe('squashfs pseudo definitions against mksquashfs', { skip: skipWithout('mksquashfs', 'unsquashfs', 'sqfsdiff') }, () => {
  it('a pseudo-only image ("-" source, -pf): byte-identical uncompressed, sqfsdiff-equal compressed', () => {
    ours(['-', 'o.sqfs', ...FIXED, ...RAW, '-pf', 'p.txt']);
    theirs(['-', 'm.sqfs', ...FIXED, ...RAW, '-pf', 'p.txt']);
    same('o.sqfs', 'm.sqfs');
    ours(['-', 'oz.sqfs', ...FIXED, '-comp', 'xz', '-pf', 'p.txt']);
    theirs(['-', 'mz.sqfs', ...FIXED, '-comp', 'xz', '-pf', 'p.txt']);
    const d = spawnSync('sqfsdiff', ['-a', join(tmp, 'oz.sqfs'), '-b', join(tmp, 'mz.sqfs')], { encoding: 'utf8' });
    assert.equal(d.status, 0, d.stdout);
    assert.equal(lln('oz.sqfs'), lln('mz.sqfs'));
    assert.match(lln('oz.sqfs'), /crw------- 0\/0 +5, +1 .*dev\/console/);
    const cat = spawnSync('unsquashfs', ['-cat', join(tmp, 'oz.sqfs'), 'etc/key'], { encoding: 'utf8' });
    assert.equal(cat.stdout, 'secret key');
  });

  it('-pf from a pipe (bash process substitution, as build scripts write it) gives the same image as from a file; an endless -pf, -ef or --pack-file is an error', () => {
    const piped = spawnSync('bash', ['-c', '"$0" pack - o-pipe.sqfs "$@" -pf <(cat p.txt)', bin, ...FIXED, ...RAW], { cwd: tmp, encoding: 'utf8' });
    assert.equal(piped.status, 0, piped.stderr);
    ours(['-', 'o-file.sqfs', ...FIXED, ...RAW, '-pf', 'p.txt']);
    same('o-pipe.sqfs', 'o-file.sqfs');
    for (const opt of ['-pf', '-ef', '--pack-file']) {
      const r = spawnSync(bin, ['pack', 'tree', 'zero.sqfs', ...FIXED, opt, '/dev/zero'], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, `${opt}: ${r.stderr}`);
      assert.match(r.stderr, /Cannot read \/dev\/zero: it is not a regular file and goes on past/);
    }
  });

  it('a pseudo file command that fails is bad input (exit 1, no "--help" hint): no image is written, and an image appended to is unchanged', () => {
    const r = spawnSync(bin, ['pack', 'tree', 'cmd-fail.sqfs', ...FIXED, '-p', 'x f 644 0 0 exit 3'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'squashfs: pseudo file command "exit 3" exited with status 3\n');
    assert.ok(!existsSync(join(tmp, 'cmd-fail.sqfs')));
    ours(['tree', 'cmd-base.sqfs', ...FIXED]);
    const before = readFileSync(join(tmp, 'cmd-base.sqfs'));
    const a = spawnSync(bin, ['pack', 'tree', 'cmd-base.sqfs', '-quiet', '-no-progress', '-p', 'y f 644 0 0 false'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(a.status, 1, a.stderr);
    assert.ok(readFileSync(join(tmp, 'cmd-base.sqfs')).equals(before));
    // a definition that cannot be read is a usage mistake, as before
    const u = spawnSync(bin, ['pack', 'tree', 'cmd-bad.sqfs', ...FIXED, '-p', 'x q 644 0 0 true'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(u.status, 2, u.stderr);
  });

  it('a -pf file\'s mistakes are bad input (exit 1), a -p definition\'s a usage mistake (exit 2); numbers past what an inode holds are refused, as mksquashfs does', () => {
    const bad = ['u d 755 4294967296 0', 'g d 755 0 99999999999999999999', 'dev c 600 0 0 4096 1', 'blk b 600 0 0 1 1048576', 'x d 75q 0 0', 'big D 99999999999 755 0 0'];
    for (const def of bad) {
      writeFileSync(join(tmp, 'bad.pf'), `/ d 755 0 0\n${def}\n`);
      const f = spawnSync(bin, ['pack', '-', 'bad-pf.sqfs', ...FIXED, '-pf', 'bad.pf'], { cwd: tmp, encoding: 'utf8' });
      assert.equal(f.status, 1, `${def}: ${f.stderr}`);
      assert.equal(f.stderr.split('\n').length, 2, `${def}: one line: ${f.stderr}`);
      assert.ok(!existsSync(join(tmp, 'bad-pf.sqfs')));
      const p = spawnSync(bin, ['pack', '-', 'bad-p.sqfs', ...FIXED, '-p', '/ d 755 0 0', '-p', def], { cwd: tmp, encoding: 'utf8' });
      assert.equal(p.status, 2, `${def}: ${p.stderr}`);
    }
    for (const def of bad.slice(0, 4)) {
      writeFileSync(join(tmp, 'bad.pf'), `/ d 755 0 0\n${def}\n`);
      assert.notEqual(spawnSync('mksquashfs', ['-', join(tmp, 'bad-m.sqfs'), ...FIXED, '-pf', join(tmp, 'bad.pf')], { encoding: 'utf8' }).status, 0, `mksquashfs takes ${def}`);
    }
    // the largest values an inode holds are taken
    writeFileSync(join(tmp, 'max.pf'), '/ d 755 0 0\nu d 755 4294967295 4294967295\nc c 600 0 0 4095 1048575\n');
    ours(['-', 'max.sqfs', ...FIXED, '-pf', 'max.pf']);
    theirs(['-', 'max-m.sqfs', ...FIXED, '-pf', 'max.pf']);
    same('max.sqfs', 'max-m.sqfs');
  });

  it('-p definitions on top of a source tree, in command-line order with -pf', () => {
    const args = (o: string) => ['tree', o, ...FIXED, ...RAW, '-p', 'dev d 755 0 0', '-pf', 'p.txt', '-p', 'dev/null c 666 0 0 1 3', '-p', 'one m 700 3 4'];
    ours(args('o2.sqfs'));
    theirs(args('m2.sqfs'));
    same('o2.sqfs', 'm2.sqfs');
  });

  it('-sort: priorities (negative, equal, unlisted) give mksquashfs\'s data and inode order', () => {
    writeFileSync(join(tmp, 'sort.txt'), '# boot files first\nbs-1 100\nbs+1 100\n2bs+1 -5\nsparse 7\nnested/deep/file 7\nmissing 3\n');
    const args = (o: string) => ['tree', o, ...FIXED, ...RAW, '-sort', 'sort.txt'];
    ours(args('o3.sqfs'));
    theirs(args('m3.sqfs'));
    same('o3.sqfs', 'm3.sqfs');
  });

  it('-wildcards -e and -ef (NixWRT\'s "... lib*.a" style)', () => {
    mkdirSync(join(tmp, 'w/usr/lib'), { recursive: true });
    mkdirSync(join(tmp, 'w/man/man1'), { recursive: true });
    for (const f of ['usr/lib/libc.a', 'usr/lib/libc.so', 'man/man1/ls.1', 'top.a', 'keep']) writeFileSync(join(tmp, 'w', f), f);
    writeFileSync(join(tmp, 'ef.txt'), 'man/man[1-9]\n');
    const args = (o: string) => ['w', o, ...FIXED, ...RAW, '-wildcards', '-ef', 'ef.txt', '-e', '... lib*.a', '-e', 'keep'];
    ours(args('o4.sqfs'));
    theirs(args('m4.sqfs'));
    same('o4.sqfs', 'm4.sqfs');
    assert.doesNotMatch(lln('o4.sqfs'), /libc\.a|ls\.1|keep/);
    assert.match(lln('o4.sqfs'), /top\.a/);
  });
});
