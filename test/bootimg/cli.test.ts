/** The bootimg command line: exit codes, messages, no partial output, no writes outside the folder. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, lstatSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin/bootimg');
const fixtures = join(root, 'test/fixtures/bootimg');
let tmp = '';

function run(...args: string[]) {
  const r = spawnSync(bin, args, { cwd: tmp, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  if (!existsSync(join(root, 'dist/cli/bootimg.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
  tmp = mkdtempSync(join(tmpdir(), 'imgkit-cli-'));
  for (const f of ['kernel', 'ramdisk', 'dtb', 'second', 'v2.img']) copyFileSync(join(fixtures, f), join(tmp, f));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('bootimg CLI', () => {
  it('--help works for the tool and each command', () => {
    for (const a of [['--help'], ['pack', '--help'], ['unpack', '--help'], ['repack', '--help'], ['info', '--help']]) {
      const r = run(...a);
      assert.equal(r.code, 0);
      assert.match(r.out, /Usage: bootimg/);
    }
  });

  it('usage mistakes exit 2', () => {
    assert.equal(run('frobnicate').code, 2);
    assert.equal(run('pack', '--kernel', 'kernel').code, 2); // no output named
    assert.equal(run('pack', '--kernel', 'kernel', '--pagesize', '3000', '-o', 'x.img').code, 2);
    assert.equal(run('pack', '--kernel', 'kernel', '--bogus', '1', '-o', 'x.img').code, 2);
    assert.ok(!existsSync(join(tmp, 'x.img')));
  });

  it('pack --id prints what mkbootimg prints', () => {
    const r = run('pack', '--kernel', 'kernel', '--ramdisk', 'ramdisk', '--second', 'second', '--dtb', 'dtb', '--header_version', '2', '--base', '0x80000000',
      '--cmdline', 'console=ttyMSM0,115200 androidboot.hardware=qcom', '--board', 'sample', '--os_version', '11.2.3', '--os_patch_level', '2021-05-17', '-o', 'p.img', '--id');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, readFileSync(join(fixtures, 'v2.id'), 'utf8'));
    assert.deepEqual(readFileSync(join(tmp, 'p.img')), readFileSync(join(fixtures, 'v2.img')));
  });

  it('a missing input file is exit 1 and leaves no output file', () => {
    const r = run('pack', '--kernel', 'kernel', '--ramdisk', 'nope', '-o', 'none.img');
    assert.equal(r.code, 1);
    assert.match(r.err, /^bootimg: .*nope/);
    assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('none')), []);
  });

  it('a v2 image without dtb is refused before anything is written', () => {
    const r = run('pack', '--kernel', 'kernel', '--header_version', '2', '-o', 'nodtb.img');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /DTB/);
    assert.ok(!existsSync(join(tmp, 'nodtb.img')));
  });

  it('bad images: exit 1, a FormatError message with the offset, nothing written', () => {
    for (const f of readdirSync(join(fixtures, 'bad'))) {
      for (const args of [['info', join(fixtures, 'bad', f)], ['unpack', join(fixtures, 'bad', f), '-o', 'badout']]) {
        const r = run(...args);
        assert.equal(r.code, 1, `${f}: ${r.err}`);
        assert.match(r.err, /^bootimg: Cannot .* \(at 0x[0-9a-f]+\)\n$/, f);
        assert.ok(!existsSync(join(tmp, 'badout')), f);
      }
    }
  });

  it('unpack then repack gives the image back, with a tail and non-UTF-8 text fields', () => {
    const img = readFileSync(join(tmp, 'v2.img'));
    const odd = Buffer.concat([img, Buffer.from('SEANDROIDENFORCE')]);
    odd[0x40] = 0xff; // not UTF-8: unpack_bootimg crashes on this
    odd[0x30] = 0xc3;
    writeFileSync(join(tmp, 'odd.img'), odd);
    const u = run('unpack', 'odd.img', '-o', 'odd');
    assert.equal(u.code, 0, u.err);
    assert.match(u.out, /trailing data: 16 bytes: SEANDROIDENFORCE/);
    const m = JSON.parse(readFileSync(join(tmp, 'odd/bootimg.json'), 'utf8'));
    assert.equal(typeof m.cmdline, 'object');
    // the stored id, and the CRC-32 of each blob it covers (repack keeps the id while they match)
    assert.equal(m.id.hex, odd.subarray(0x240, 0x260).toString('hex'));
    assert.deepEqual(m.id.crc32, Object.fromEntries(Object.keys(m.files).filter((k) => k !== 'tail').map((k) =>
      [k, '0x' + crc32(readFileSync(join(tmp, 'odd', m.files[k]))).toString(16).padStart(8, '0')])));
    assert.doesNotMatch(u.out, /matches the content|does not match/); // unpack does not hash; info does
    assert.equal(run('repack', 'odd', '-o', 'odd2.img').code, 0);
    assert.deepEqual(readFileSync(join(tmp, 'odd2.img')), odd);
  });

  it('a stored id that does not match the blobs comes back as it was, and is renewed once a blob changes', () => {
    const bad = readFileSync(join(tmp, 'v2.img'));
    bad[0x241] = bad[0x241]! ^ 0x5a; // inside the SHA-1
    writeFileSync(join(tmp, 'badid.img'), bad);
    assert.match(run('info', 'badid.img').out, /does not match the content/);
    assert.equal(run('unpack', 'badid.img', '-o', 'badid').code, 0);
    assert.equal(run('repack', 'badid', '-o', 'badid2.img').code, 0);
    assert.deepEqual(readFileSync(join(tmp, 'badid2.img')), bad);
    // the same length, other bytes: only the CRC-32 tells
    const k = readFileSync(join(tmp, 'badid/kernel'));
    k[k.length >> 1] = k[k.length >> 1]! ^ 1;
    writeFileSync(join(tmp, 'badid/kernel'), k);
    assert.equal(run('repack', 'badid', '-o', 'badid3.img').code, 0);
    assert.match(run('info', 'badid3.img').out, /matches the content, sha1/);
  });

  it('a blob that appears or goes away renews the id', () => {
    assert.equal(run('unpack', 'v2.img', '-o', 'gone').code, 0);
    const p = join(tmp, 'gone/bootimg.json');
    const m = JSON.parse(readFileSync(p, 'utf8'));
    assert.ok(m.files.dtb && m.id.crc32.dtb);
    delete m.files.dtb;
    writeFileSync(p, JSON.stringify(m));
    assert.equal(run('repack', 'gone', '-o', 'gone.img').code, 0);
    const i = run('info', 'gone.img');
    assert.match(i.out, /dtb size: 0\n/);
    assert.match(i.out, /matches the content, sha1/);
  });

  it('older manifests: "sha1" computes the id, {"hex"} keeps it; a bad crc32 entry is refused', () => {
    assert.equal(run('unpack', 'v2.img', '-o', 'old').code, 0);
    const p = join(tmp, 'old/bootimg.json');
    const m = JSON.parse(readFileSync(p, 'utf8'));
    const k = readFileSync(join(tmp, 'old/kernel'));
    writeFileSync(join(tmp, 'old/kernel'), Buffer.concat([k, Buffer.from('more')]));
    writeFileSync(p, JSON.stringify({ ...m, id: 'sha1' }));
    assert.equal(run('repack', 'old', '-o', 'old1.img').code, 0);
    assert.match(run('info', 'old1.img').out, /matches the content, sha1/);
    writeFileSync(p, JSON.stringify({ ...m, id: { hex: m.id.hex } }));
    assert.equal(run('repack', 'old', '-o', 'old2.img').code, 0);
    assert.equal(readFileSync(join(tmp, 'old2.img')).subarray(0x240, 0x260).toString('hex'), m.id.hex);
    for (const crc of [{ kernel: 'zz' }, { tail: '0x1' }, ['0x1']]) {
      writeFileSync(p, JSON.stringify({ ...m, id: { hex: m.id.hex, crc32: crc } }));
      const r = run('repack', 'old', '-o', 'old3.img');
      assert.equal(r.code, 1, JSON.stringify(crc));
      assert.match(r.err, /id\.crc32/);
      assert.ok(!existsSync(join(tmp, 'old3.img')));
    }
  });

  it('a changed blob is repacked with new sizes and a new id', () => {
    assert.equal(run('unpack', 'v2.img', '-o', 'edit').code, 0);
    writeFileSync(join(tmp, 'edit/kernel'), Buffer.alloc(9000, 1));
    assert.equal(run('repack', 'edit', '-o', 'edit.img').code, 0);
    const i = run('info', 'edit.img');
    assert.match(i.out, /kernel size: 9000/);
    assert.match(i.out, /matches the content, sha1/);
  });

  it('unpack replaces a planted symlink instead of writing through it', () => {
    const outside = join(tmp, 'outside.txt');
    writeFileSync(outside, 'keep me');
    rmSync(join(tmp, 'trap'), { recursive: true, force: true });
    execFileSync('mkdir', ['-p', join(tmp, 'trap')]);
    symlinkSync(outside, join(tmp, 'trap/kernel'));
    assert.equal(run('unpack', 'v2.img', '-o', 'trap').code, 0);
    assert.equal(readFileSync(outside, 'utf8'), 'keep me');
    assert.ok(!lstatSync(join(tmp, 'trap/kernel')).isSymbolicLink());
  });

  it('an unpack that cannot write a blob whole exits 1 and leaves nothing it wrote, nor the folder it made', () => {
    writeFileSync(join(tmp, 'k300'), Buffer.alloc(300_000, 7));
    assert.equal(run('pack', '--kernel', 'k300', '--ramdisk', 'ramdisk', '-o', 'big.img').code, 0);
    // under a small RLIMIT_FSIZE (SIGXFSZ ignored): EFBIG from write
    const limited = (dir: string) => spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 64; exec "$0" unpack big.img -o "$1"`, bin, dir], { cwd: tmp, encoding: 'utf8' });
    const r = limited('full/out');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /EFBIG/);
    assert.ok(!existsSync(join(tmp, 'full')));
    execFileSync('mkdir', ['-p', join(tmp, 'full2')]);
    writeFileSync(join(tmp, 'full2/mine'), 'mine');
    assert.equal(limited('full2').status, 1);
    assert.deepEqual(readdirSync(join(tmp, 'full2')), ['mine']);
    // what was there stays: a folder where a blob goes (the rename fails), and an earlier unpack's files
    execFileSync('mkdir', ['-p', join(tmp, 'full3/kernel')]);
    writeFileSync(join(tmp, 'full3/kernel/keep'), 'precious');
    writeFileSync(join(tmp, 'full3/ramdisk'), 'old ramdisk');
    const r3 = run('unpack', 'big.img', '-o', 'full3');
    assert.equal(r3.code, 1, r3.err);
    assert.equal(readFileSync(join(tmp, 'full3/kernel/keep'), 'utf8'), 'precious');
    assert.ok(existsSync(join(tmp, 'full3/ramdisk')));
    assert.ok(!existsSync(join(tmp, 'full3/bootimg.json')));
  });

  it('repack: a bootimg.json no image can be made from is bad input (exit 1, one line naming the field), and no image is written', () => {
    assert.equal(run('unpack', 'v2.img', '-o', 'mf').code, 0);
    const p = join(tmp, 'mf/bootimg.json');
    const good = readFileSync(p, 'utf8');
    const cases: [string, (m: Record<string, unknown>) => unknown, RegExp][] = [
      ['header version 5', (m) => ({ ...m, headerVersion: 5 }), /header version 5 is not 0–4/],
      ['page size 3', (m) => ({ ...m, pageSize: 3 }), /page size 3 is not a power of two/],
      ['cmdline too long', (m) => ({ ...m, cmdline: 'x'.repeat(600) }), /cmdline: 600 bytes do not fit in 512/],
      ['files a number', (m) => ({ ...m, files: 1 }), /files must map blob names to file names/],
      ['null', () => null, /the manifest must be an object/],
      ['an address past 32 bits', (m) => ({ ...m, secondAddr: 2 ** 32 }), /secondAddr is 4294967296, past the field's largest value 0xffffffff/],
      ['os version not a string', (m) => ({ ...m, osVersion: {} }), /osVersion must be a string/],
    ];
    for (const [what, edit, msg] of cases) {
      writeFileSync(p, JSON.stringify(edit(JSON.parse(good))));
      const r = run('repack', 'mf', '-o', 'mf.img');
      assert.equal(r.code, 1, `${what}: ${r.err}`);
      assert.match(r.err, msg, what);
      assert.equal(r.err.split('\n').length, 2, `${what}: one line`);
      assert.ok(!existsSync(join(tmp, 'mf.img')), what);
    }
    writeFileSync(p, good.replace('"files": {', '""files": {'));
    const r = run('repack', 'mf', '-o', 'mf.img');
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err.split('\n').length, 2, `a JSON mistake is one line: ${r.err}`);
    // the dtb address is 64 bits wide
    writeFileSync(p, JSON.stringify({ ...JSON.parse(good), dtbAddr: '0x10000001e' }));
    assert.equal(run('repack', 'mf', '-o', 'mf.img').code, 0);
  });

  it('repack refuses a blob that is a FIFO at once (no writer: it blocked in open)', () => {
    assert.equal(run('unpack', 'v2.img', '-o', 'ff').code, 0);
    rmSync(join(tmp, 'ff/kernel'));
    execFileSync('mkfifo', [join(tmp, 'ff/kernel')]);
    const r = spawnSync(bin, ['repack', 'ff', '-o', 'ff.img'], { cwd: tmp, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /ff\/kernel: not a regular file/);
    assert.ok(!existsSync(join(tmp, 'ff.img')));
  });

  it('repack refuses a vendor ramdisk that lies outside the ramdisk section, which readers would refuse', () => {
    assert.equal(run('pack', '--header_version', '4', '--vendor_boot', 'vendor_v4.img', '--vendor_ramdisk', 'ramdisk').code, 0);
    assert.equal(run('unpack', 'vendor_v4.img', '-o', 'vb').code, 0);
    const p = join(tmp, 'vb/bootimg.json');
    const m = JSON.parse(readFileSync(p, 'utf8'));
    m.ramdisks[0].offset = 999_999_999;
    writeFileSync(p, JSON.stringify(m));
    const r = run('repack', 'vb', '-o', 'vb.img');
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /vendor ramdisk 0: \d+ bytes at 999999999 lie outside the \d+-byte ramdisk section/);
    assert.ok(!existsSync(join(tmp, 'vb.img')));
  });

  it('repack refuses a bootimg.json that names files outside the folder', () => {
    assert.equal(run('unpack', 'v2.img', '-o', 'evil').code, 0);
    const p = join(tmp, 'evil/bootimg.json');
    const m = JSON.parse(readFileSync(p, 'utf8'));
    m.files.kernel = '../v2.img';
    writeFileSync(p, JSON.stringify(m));
    const r = run('repack', 'evil', '-o', 'evil.img');
    assert.equal(r.code, 1);
    assert.match(r.err, /files\.kernel/);
    assert.ok(!existsSync(join(tmp, 'evil.img')));
  });

  it('info --json is machine-readable', () => {
    const r = run('info', 'v2.img', '--json');
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out);
    assert.equal(j.headerVersion, 2);
    assert.equal(j.report.id, 'sha1');
    assert.equal(j.sections.kernel.size, 5000);
  });
});
