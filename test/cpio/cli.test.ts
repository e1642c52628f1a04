/** The initramfs command line: pack from a tree, a spec and stdin; ls, info, extract (safely), cat; exit codes. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCpio, encodeCpio, S_IFDIR } from '../../src/cpio/index.js';
import { ensureBuilt, has, root, tempDir } from '../helpers.js';
import { outsideTree } from './outside.js';

const bin = join(root, 'bin/initramfs');
let tmp = '';
function run(args: string[], opts: { input?: string | Uint8Array; env?: Record<string, string> } = {}) {
  const r = spawnSync(bin, args, { cwd: tmp, input: opts.input ?? '', env: { ...process.env, ...opts.env }, maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, text: r.stdout.toString(), err: r.stderr.toString() };
}

before(() => {
  ensureBuilt('dist/cli/initramfs.js');
  tmp = tempDir('imgkit-initramfs-cli-');
  const t = join(tmp, 'tree');
  mkdirSync(join(t, 'bin'), { recursive: true });
  writeFileSync(join(t, 'init'), '#!/bin/sh\necho ok\n', { mode: 0o755 });
  writeFileSync(join(t, 'bin/data'), Buffer.alloc(5000, 7));
  symlinkSync('../init', join(t, 'bin/init-link'));
  for (const p of ['', 'bin', 'init', 'bin/data']) utimesSync(join(t, p), 2_000_000_000, 2_000_000_000);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('initramfs CLI', () => {
  it('--help for the tool and every command; usage mistakes exit 2', () => {
    for (const c of [[], ['pack'], ['ls'], ['extract'], ['cat'], ['info']]) {
      const r = run([...c, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.text, /Usage: initramfs/);
    }
    assert.equal(run(['frob']).code, 2);
    assert.equal(run(['pack', '--dir', 'tree']).code, 2); // no -o
    assert.equal(run(['pack', '-o', 'x', '--dir', 'tree', '--compress', 'lzo']).code, 2);
    assert.equal(run(['pack', '-o', 'x', '--dir', 'tree', '--bogus']).code, 2);
    assert.ok(!existsSync(join(tmp, 'x')));
  });

  it('pack --dir, SOURCE_DATE_EPOCH clamps mtimes, ls and cat read it back', () => {
    const r = run(['pack', '-o', 'a.cpio', '--dir', 'tree'], { env: { SOURCE_DATE_EPOCH: '1000' } });
    assert.equal(r.code, 0, r.err);
    const { records } = decodeCpio(readFileSync(join(tmp, 'a.cpio')));
    assert.deepEqual(records.map((x) => x.entry.name), ['.', 'bin', 'bin/data', 'bin/init-link', 'init']);
    assert.ok(records.every((x) => x.entry.mtime <= 1000 && x.entry.uid === 0));
    assert.equal(run(['ls', 'a.cpio']).text, '.\nbin\nbin/data\nbin/init-link\ninit\n');
    assert.match(run(['ls', '-l', 'a.cpio']).text, /^lrwxrwxrwx +1 root +root +7 Jan  1  1970 bin\/init-link -> \.\.\/init$/m);
    assert.equal(run(['cat', 'a.cpio', '/init']).text, '#!/bin/sh\necho ok\n');
    assert.equal(run(['cat', 'a.cpio', 'nope']).code, 1);
  });

  it('pack from a NUL- or newline-separated path list on stdin, as find | cpio -o', () => {
    const nl = run(['pack', '-o', 'nl.cpio', '-D', 'tree'], { input: '.\n./init\n./bin\n' });
    assert.equal(nl.code, 0, nl.err);
    assert.deepEqual(decodeCpio(readFileSync(join(tmp, 'nl.cpio'))).records.map((x) => x.entry.name), ['.', 'init', 'bin']);
    const z = run(['pack', '-0', '-o', 'z.cpio', '-D', 'tree'], { input: './bin/data\0./init\0' });
    assert.equal(z.code, 0, z.err);
    assert.deepEqual(decodeCpio(readFileSync(join(tmp, 'z.cpio'))).records.map((x) => x.entry.name), ['bin/data', 'init']);
    if (has('cpio')) {
      const gnu = spawnSync('cpio', ['--quiet', '-o', '-H', 'newc', '--reproducible', '-R', '0:0'], { cwd: join(tmp, 'tree'), input: './bin/data\n./init\n' }).stdout;
      assert.deepEqual(readFileSync(join(tmp, 'z.cpio')), gnu);
    }
  });

  it('pack --spec (gen_init_cpio): device nodes without root, hard links, -t mtime', () => {
    writeFileSync(join(tmp, 'list'), `# sample
dir /dev 755 0 0
nod /dev/console 600 0 0 c 5 1
nod /dev/sda 660 0 6 b 8 0
slink /bin/sh busybox 777 0 0
pipe /fifo 644 0 0
sock /sock 644 0 0
file /init \${SRC}/tree/init 755 0 0 /init2
`);
    const r = run(['pack', '-o', 's.cpio', '--spec', 'list', '--mtime', '7'], { env: { SRC: tmp } });
    assert.equal(r.code, 0, r.err);
    const recs = decodeCpio(readFileSync(join(tmp, 's.cpio'))).records;
    const byName = Object.fromEntries(recs.map((x) => [x.entry.name, x]));
    assert.equal(byName['dev/console']!.entry.mode, 0o20600);
    assert.equal(byName['dev/console']!.entry.rdevMajor, 5);
    assert.equal(byName['dev/sda']!.entry.gid, 6);
    assert.equal(new TextDecoder().decode(byName['bin/sh']!.data), 'busybox\0');
    assert.equal(byName['init']!.data.length, 0);
    assert.equal(byName['init2']!.entry.ino, byName['init']!.entry.ino);
    assert.equal(byName['init2']!.entry.nlink, 2);
    assert.equal(recs[0]!.entry.ino, 721);
    assert.ok(recs.every((x) => x.entry.mtime === 7 && x.entry.devMajor === 3 && x.entry.devMinor === 1));
    assert.equal(run(['cat', 's.cpio', 'init']).text, '#!/bin/sh\necho ok\n', 'cat finds the data on the other link');
    writeFileSync(join(tmp, 'badlist'), 'nod /dev/x 600 0 0 q 1 1\n');
    const bad = run(['pack', '-o', 'b.cpio', '--spec', 'badlist']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /line 1/);
    // a NUL in a name or a target: an error on its line (was exit 2 from the archive encoder)
    for (const line of ['dir /a\0b 755 0 0', 'slink /l x\0y 777 0 0']) {
      writeFileSync(join(tmp, 'nullist'), `dir /ok 755 0 0\n${line}\n`);
      const r = run(['pack', '-o', 'n.cpio', '--spec', 'nullist']);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /line 2: a NUL byte in the line/);
      assert.ok(!existsSync(join(tmp, 'n.cpio')));
    }
  });

  it('pack --compress each kernel method; --prepend puts an early cpio first; info and ls see every segment', () => {
    writeFileSync(join(tmp, 'early.cpio'), encodeCpio([{ name: 'kernel', mode: S_IFDIR | 0o755 }, { name: 'kernel/ucode.bin', mode: 0o100644, data: new Uint8Array(64) }]));
    for (const m of ['gzip', 'xz', 'lzma', 'zstd', 'lz4']) {
      const r = run(['pack', '-o', `c.${m}`, '--dir', 'tree', '--compress', m, '--prepend', 'early.cpio']);
      assert.equal(r.code, 0, `${m}: ${r.err}`);
      const ls = run(['ls', `c.${m}`]);
      assert.equal(ls.text, 'kernel\nkernel/ucode.bin\n.\nbin\nbin/data\nbin/init-link\ninit\n', m);
      const info = run(['info', '--json', `c.${m}`]);
      assert.deepEqual(JSON.parse(info.text).map((s: { compression: string }) => s.compression), ['none', m]);
    }
    assert.equal(run(['pack', '-o', 'plain.gz', '--dir', 'tree', '--compress', 'gzip']).code, 0);
    assert.equal(run(['pack', '-o', 'p.cpio', '--dir', 'tree', '--prepend', 'plain.gz']).code, 1, 'a compressed prepend is refused');
  });

  it('pack --compress lzma --encoder imgkit: the kernel\'s header (lc3 lp0 pb2, 512 KiB, size unknown), xz reads the same archive; --encoder is for lzma only', () => {
    assert.equal(run(['pack', '-o', 'own.lzma', '--dir', 'tree', '--compress', 'lzma', '--encoder', 'imgkit']).code, 0);
    assert.equal(run(['pack', '-o', 'lib.lzma', '--dir', 'tree', '--compress', 'lzma', '--encoder', 'liblzma']).code, 0);
    const own = readFileSync(join(tmp, 'own.lzma'));
    assert.deepEqual([...own.subarray(0, 13)], [0x5d, 0, 0, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
    const xz = (f: string) => spawnSync('xz', ['-dc', '--format=lzma', f], { cwd: tmp, maxBuffer: 1 << 26 });
    const a = xz('own.lzma'), b = xz('lib.lzma');
    assert.equal(a.status, 0, a.stderr.toString());
    assert.ok(a.stdout.length > 0 && a.stdout.equals(b.stdout));
    assert.equal(run(['ls', 'own.lzma']).text, run(['ls', 'lib.lzma']).text);
    assert.equal(run(['pack', '-o', 'x', '--dir', 'tree', '--compress', 'xz', '--encoder', 'imgkit']).code, 2);
    assert.equal(run(['pack', '-o', 'x', '--dir', 'tree', '--compress', 'lzma', '--encoder', 'lzma-sdk']).code, 2);
  });

  it('extract writes the tree and refuses .., absolute names and symlinked parents', () => {
    assert.equal(run(['pack', '-o', 'e.cpio', '--dir', 'tree', '--compress', 'gzip']).code, 0);
    const r = run(['extract', 'e.cpio', 'out']);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(join(tmp, 'out/init'), 'utf8'), '#!/bin/sh\necho ok\n');
    assert.equal(lstatSync(join(tmp, 'out/init')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(tmp, 'out/bin/init-link')), '../init');
    const hostile = (items: Parameters<typeof encodeCpio>[0], name: string) => {
      writeFileSync(join(tmp, name), encodeCpio(items));
      const x = run(['extract', name, `x-${name}`]);
      assert.equal(x.code, 1, `${name}: ${x.err}`);
    };
    hostile([{ name: '../escape', mode: 0o100644, data: new Uint8Array(1) }], 'dotdot.cpio');
    hostile([{ name: '/etc/escape', mode: 0o100644, data: new Uint8Array(1) }], 'abs.cpio');
    hostile([{ name: 'l', mode: 0o120777, data: new TextEncoder().encode(tmp) }, { name: 'l/escape', mode: 0o100644, data: new Uint8Array(1) }], 'symparent.cpio');
    assert.ok(!existsSync(join(tmp, 'escape')) && !existsSync('/etc/escape'));
  });

  it('extract changes nothing outside through entries that a later one replaced with a symlink', () => {
    const { out, snapshot: before } = outsideTree(tmp);
    const was = before();
    const te = (t: string) => new TextEncoder().encode(t);
    const cases: [string, Parameters<typeof encodeCpio>[0]][] = [
      // a symlink "hard-link group" whose second entry carries data: symlinks are never linked
      ['symgroup', [{ name: 'l', mode: 0o120777, ino: 7, nlink: 2, data: te(join(out, 'made')) }, { name: 'm', mode: 0o120777, ino: 7, nlink: 2, data: te('text') }]],
      // the first link of a group replaced by a symlink out, then a later link with data
      ['relinked', [{ name: 'f', mode: 0o100644, ino: 9, nlink: 2 }, { name: 'f', mode: 0o120777, ino: 10, data: te(join(out, 'victim')) }, { name: 'g', mode: 0o100644, ino: 9, nlink: 2, data: te('new\n') }]],
      // the folder above a group's first link replaced by a symlink out
      ['dirswap', [{ name: 'd', mode: 0o40755, ino: 1 }, { name: 'd/f', mode: 0o100777, ino: 5, nlink: 2 }, { name: 'd', mode: 0o120777, ino: 2, data: te(join(out, 'secret')) }, { name: 'g', mode: 0o104777, ino: 5, nlink: 2, mtime: 1 }]],
      // a folder replaced by a symlink out before its mode and times are set at the end
      ['dirmode', [{ name: 'd', mode: 0o40777, ino: 1, mtime: 12345 }, { name: 'd', mode: 0o120777, ino: 2, data: te(join(out, 'dir')) }]],
      // a folder replaced by a file before its mode and times are set at the end
      ['dirfile', [{ name: 'a', mode: 0o40755, ino: 1 }, { name: 'a/b', mode: 0o40700, ino: 2 }, { name: 'a/b', mode: 0o100644, ino: 3, data: te('x') }]],
    ];
    for (const [name, items] of cases) {
      writeFileSync(join(tmp, `${name}.cpio`), encodeCpio(items));
      const r = run(['extract', `${name}.cpio`, `x-${name}`]);
      assert.equal(r.code, 0, `${name}: ${r.err}`);
    }
    assert.deepEqual(before(), was);
    assert.ok(!existsSync(join(out, 'made')));
    assert.equal(readFileSync(join(tmp, 'x-relinked/g'), 'utf8'), 'new\n');
    assert.equal(readlinkSync(join(tmp, 'x-symgroup/m')), 'text');
    assert.equal(lstatSync(join(tmp, 'x-dirswap/g')).nlink, 1);
    assert.equal(readFileSync(join(tmp, 'x-dirfile/a/b'), 'utf8'), 'x');
  });

  it('extract warns about a symlink with an empty target and goes on', () => {
    writeFileSync(join(tmp, 'emptylink.cpio'), encodeCpio([{ name: 'l', mode: 0o120777, data: new Uint8Array(0) }, { name: 'f', mode: 0o100644, data: new Uint8Array(3) }]));
    const r = run(['extract', 'emptylink.cpio', 'x-emptylink']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /l: .*empty target/);
    assert.ok(!existsSync(join(tmp, 'x-emptylink/l')) && existsSync(join(tmp, 'x-emptylink/f')));
  });

  it('a warning shows control characters in a name in hex (C0, DEL, C1): one line, nothing sent to the terminal', () => {
    writeFileSync(join(tmp, 'ctlname.cpio'), encodeCpio([{ name: 'a\x1b[2Jb\nc\u009bd\x7f', mode: 0o120777, data: new Uint8Array(0) }]));
    const r = run(['extract', 'ctlname.cpio', 'x-ctlname']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, 'initramfs: a\\x1b[2Jb\\x0ac\\x9bd\\x7f: a symlink with an empty target cannot be created\n');
  });

  it('bad input exits 1 with the offset in the message', () => {
    writeFileSync(join(tmp, 'junk'), 'this is not an initramfs');
    const r = run(['ls', 'junk']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^initramfs: .*\(at 0x0\)/);
  });

  it('a control byte from the input is shown in hex: the error stays one line and sends nothing to the terminal', () => {
    const good = run(['pack', '-o', '-'], { input: 'tree\n' }).out;
    for (const c of [0x0a, 0x1b]) {
      const bad = Buffer.from(good);
      bad[6 + 8 + 2] = c; // a byte of the first header's mode field
      writeFileSync(join(tmp, 'ctl.cpio'), bad);
      const r = run(['ls', 'ctl.cpio']);
      assert.equal(r.code, 1, r.err);
      assert.equal(r.err, `initramfs: cpio: Cannot parse cpio mode: byte 0x${c.toString(16).padStart(2, '0')} is not a hex digit (at 0x10)\n`);
    }
  });
});
