/** The uimage command line: help, exit codes (0 ok, 1 bad input, 2 usage), no partial output, --json. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../src/bytes/crc32.js';
import { encodeFdt, fdtNode, propValue } from '../../src/dtb/index.js';
import { encodeFit, encodeLegacyHeader, fitFromSpec } from '../../src/uimage/index.js';
import { IH_ARCH_PPC, IH_COMP_NONE, IH_OS_LINUX, IH_TYPE_MULTI } from '../../src/uimage/tables.js';
import { ensureBuilt, root, tempDir } from '../helpers.js';

const BIN = join(root, 'bin/uimage');
const FIX = join(root, 'test/fixtures/uimage');
let dir = '';

function run(...args: string[]) {
  const r = spawnSync(BIN, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  ensureBuilt('dist/cli/uimage.js');
  dir = tempDir('imgkit-uimage-cli-');
  for (const f of ['multi.img', 'kernel-lzma.img', 'small.bin', 'a.bin', 'b.bin', 'c.bin', 'kernel-lzma.txt']) copyFileSync(join(FIX, f), join(dir, f));
  copyFileSync(join(FIX, 'bad/BAD_CHECKSUM--dcrc.bin'), join(dir, 'bad.img'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('uimage CLI', () => {
  it('--help for the tool and each command', () => {
    for (const a of [['--help'], ['pack', '--help'], ['list', '--help'], ['extract', '--help']]) {
      const r = run(...a);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Usage: uimage/);
    }
  });

  it('pack writes what mkimage writes and prints its listing', () => {
    const r = run('pack', '-A', 'mips', '-O', 'linux', '-T', 'kernel', '-C', 'lzma', '-a', '0x80000000', '-e', '0x80000000', '-n', 'Linux-6.1', '-d', 'small.bin', 'k.img');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readFileSync(join(dir, 'k.img')), readFileSync(join(dir, 'kernel-lzma.img')));
    assert.equal(r.out, readFileSync(join(dir, 'kernel-lzma.txt'), 'utf8'));
  });

  it('usage mistakes exit 2 and write nothing', () => {
    assert.equal(run('frobnicate').code, 2);
    assert.equal(run('pack', '-A', 'vax', '-d', 'small.bin', 'x.img').code, 2);
    assert.equal(run('pack', '-T', 'kwbimage', '-d', 'small.bin', 'x.img').code, 2); // not a legacy type
    assert.equal(run('pack', '-T', 'flat_dt', '-d', 'small.bin', 'x.img').code, 2); // FIT
    assert.equal(run('pack', '-a', 'zz', '-d', 'small.bin', 'x.img').code, 2);
    assert.equal(run('pack', '-a', '100000000', '-d', 'small.bin', 'x.img').code, 2);
    assert.equal(run('pack', '--bogus', '-d', 'small.bin', 'x.img').code, 2);
    assert.equal(run('pack', '-d', 'small.bin').code, 2); // no output
    assert.equal(run('pack', '-T', 'multi', '-x', '-d', 'a.bin:b.bin', 'x.img').code, 2);
    assert.equal(run('extract', 'kernel-lzma.img', '--image', 'kernel-1', '-o', 'x.img').code, 2); // --image is for FIT images
    assert.ok(!existsSync(join(dir, 'x.img')));
  });

  // a multi-file image whose size table holds only its terminating 0; dumpimage says "No such data file 0"
  it('extract: a file the size table does not list is bad input (exit 1) naming the table\'s end, and writes nothing', () => {
    const p3 = run('extract', 'multi.img', '-p', '3', '-o', 'x.img'); // 3 files: 0..2
    assert.equal(p3.code, 1);
    assert.match(p3.err, /^uimage: Cannot extract file 3: no such data file, the size table lists 3 \(0\.\.2\) \(at 0x4c\)\n$/);
    const spec = { os: IH_OS_LINUX, arch: IH_ARCH_PPC, type: IH_TYPE_MULTI, comp: IH_COMP_NONE, load: 0, ep: 0, time: 0, name: 'm' };
    const table = new Uint8Array(4); // only the terminating 0
    writeFileSync(join(dir, 'zero-parts.img'), Buffer.concat([encodeLegacyHeader(spec, 4, crc32(table)), table]));
    const z = run('extract', 'zero-parts.img', '-o', 'x.img');
    assert.equal(z.code, 1);
    assert.match(z.err, /^uimage: Cannot extract file 0: no such data file, the size table lists none \(at 0x40\)\n$/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('x.img')), []);
  });

  it('extract of a FIT: a position it does not have is exit 1; --image on a file that is no FIT and no uImage either is exit 1', async () => {
    const fit = (await encodeFit(fitFromSpec({
      description: 'one kernel',
      images: [{ name: 'kernel-1', type: 'kernel', arch: 'arm', os: 'linux', compression: 'none', load: 0, entry: 0, data: new Uint8Array(100).fill(7), hashes: ['crc32'] }],
      configurations: [{ name: 'conf-1', kernel: 'kernel-1' }],
    }), { time: 1700000000 })).bytes;
    writeFileSync(join(dir, 'one.itb'), fit);
    assert.equal(run('extract', 'one.itb', '-p', '0', '-o', 'k0').code, 0);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'k0'))), new Uint8Array(100).fill(7));
    const p1 = run('extract', 'one.itb', '-p', '1', '-o', 'x.img');
    assert.equal(p1.code, 1);
    assert.match(p1.err, /no such component at '1', the FIT has 1 \(at 0x[0-9a-f]+\)/);
    assert.equal(run('extract', 'one.itb', '--image', 'nope', '-o', 'x.img').code, 2); // a name is the caller's
    const bad = Buffer.from(fit);
    bad[3]! ^= 0x01; // not the FDT magic, and not a uImage's either
    writeFileSync(join(dir, 'bad-magic.itb'), bad);
    const b = run('extract', 'bad-magic.itb', '--image', 'kernel-1', '-o', 'x.img');
    assert.equal(b.code, 1);
    assert.match(b.err, /^uimage: Cannot parse legacy header: magic is 0xd00dfeec, not 0x27051956 \(at 0x0\)\n$/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('x.img')), []);
  });

  // a FIT with 125,000 hash nodes: no step may spread them into one call (the stack would overflow)
  it('list, fit verify and extract of a FIT with 125,000 hash subnodes', { timeout: 120_000 }, () => {
    const N = 125_000;
    const str = (name: string, v: string) => ({ name, value: propValue.strings(v) });
    const value = { name: 'value', value: propValue.cells(crc32(new Uint8Array(1))) };
    const hashes = [];
    for (let i = 0; i < N; i++) hashes.push(fdtNode(`hash-${i.toString(16)}`, [str('algo', 'crc32'), value]));
    const image = fdtNode('k', [{ name: 'data', value: new Uint8Array(1) }, str('type', 'kernel'), str('compression', 'none')], hashes);
    const root = fdtNode('', [str('description', 'd'), { name: 'timestamp', value: propValue.cells(1) }], [fdtNode('images', [], [image])]);
    writeFileSync(join(dir, 'many.itb'), encodeFdt({ version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root }));
    const big = (...args: string[]) => spawnSync(BIN, args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
    const l = big('list', 'many.itb');
    assert.equal(l.status, 0, l.stderr.slice(0, 500));
    assert.equal(l.stdout.split('\n').filter((x) => x === '  Hash value:   d202ef8d').length, N);
    const v = big('fit', 'verify', 'many.itb');
    assert.equal(v.status, 0, v.stderr.slice(0, 500));
    assert.equal(v.stdout.split('\n').filter((x) => x.endsWith(': crc32 OK')).length, N);
    const x = big('extract', 'many.itb', '-p', '0', '-o', 'many.out');
    assert.equal(x.status, 0, x.stderr.slice(0, 500));
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'many.out'))), new Uint8Array(1));
  });

  it('a missing or empty input is exit 1 and leaves no output', () => {
    const r = run('pack', '-d', 'nope.bin', 'none.img');
    assert.equal(r.code, 1);
    assert.match(r.err, /^uimage: .*nope\.bin/);
    copyFileSync(join(dir, 'small.bin'), join(dir, 'empty.bin'));
    spawnSync('truncate', ['-s', '0', join(dir, 'empty.bin')]);
    assert.equal(run('pack', '-T', 'multi', '-d', 'a.bin:empty.bin', 'none.img').code, 1);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('none')), []);
  });

  it('list: bad CRC is exit 1 with the offset, --no-verify lists anyway, --json', () => {
    const bad = run('list', 'bad.img');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /data CRC is 0x[0-9a-f]{8}, the header says 0x[0-9a-f]{8} \(at 0x18\)/);
    assert.equal(bad.out, '');
    const nv = run('list', '--no-verify', 'bad.img');
    assert.equal(nv.code, 0);
    assert.match(nv.out, /^Image Name:   Linux-6\.1\n/);
    const j = JSON.parse(run('list', '--json', 'multi.img').out) as { type: { name: string }; parts: unknown[]; verified: boolean };
    assert.equal(j.type.name, 'multi');
    assert.equal(j.parts.length, 3);
    assert.equal(j.verified, true);
    assert.equal(run('list', 'small.bin').code, 1); // not a uImage: BAD_MAGIC
  });

  it('extract and pack -o through a link to /proc/self/fd/1 write to standard output, a pipe, as dumpimage and mkimage do; a bad CRC sends nothing', () => {
    symlinkSync('/proc/self/fd/1', join(dir, 'stdout-link'));
    // through a shell pipe: Node's own stdio pipes are sockets, which /proc/self/fd cannot open (ENXIO)
    const bin = (...args: string[]) => spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$@" | cat', BIN, ...args], { cwd: dir, env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    const x = bin('extract', 'kernel-lzma.img', '-o', 'stdout-link');
    assert.equal(x.status, 0, x.stderr.toString());
    assert.deepEqual(new Uint8Array(x.stdout), new Uint8Array(readFileSync(join(dir, 'small.bin'))));
    assert.ok(lstatSync(join(dir, 'stdout-link')).isSymbolicLink(), 'the link is not replaced');
    const bad = bin('extract', 'bad.img', '-o', 'stdout-link');
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout.length, 0);
    assert.match(bad.stderr.toString(), /data CRC/);
    assert.equal(run('pack', '-q', '-A', 'arm', '-T', 'kernel', '-C', 'none', '-d', 'small.bin', 'piped.img').code, 0);
    const p = bin('pack', '-q', '-A', 'arm', '-T', 'kernel', '-C', 'none', '-d', 'small.bin', 'stdout-link');
    assert.equal(p.status, 0, p.stderr.toString());
    assert.deepEqual(new Uint8Array(p.stdout), new Uint8Array(readFileSync(join(dir, 'piped.img'))));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('extract: each file of a multi image, and the whole data otherwise', () => {
    for (const [p, f] of [['0', 'a.bin'], ['1', 'b.bin'], ['2', 'c.bin']] as const) {
      assert.equal(run('extract', 'multi.img', '-p', p, '-o', `p${p}`).code, 0);
      assert.deepEqual(readFileSync(join(dir, `p${p}`)), readFileSync(join(dir, f)));
    }
    assert.equal(run('extract', 'kernel-lzma.img', '-o', 'data').code, 0);
    assert.deepEqual(readFileSync(join(dir, 'data')), readFileSync(join(dir, 'small.bin')));
    assert.equal(run('extract', 'bad.img', '-o', 'nodata').code, 1);
    assert.ok(!existsSync(join(dir, 'nodata')));
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('nodata')), []); // no temporary file left either
  });

  it('extract checks the data CRC in the same pass as it copies (in parts, one per core, past 8 MiB): a bad byte anywhere leaves no output; list checks it too', () => {
    const big = new Uint8Array(17 * 1024 * 1024 + 123).map((_, i) => (i * 31 + (i >> 12)) & 0xff);
    writeFileSync(join(dir, 'big.bin'), big);
    assert.equal(run('pack', '-q', '-A', 'arm', '-T', 'kernel', '-C', 'none', '-d', 'big.bin', 'big.img').code, 0);
    assert.equal(run('list', 'big.img').code, 0);
    for (const at of [64 + 3, 64 + (9 << 20), 64 + big.length - 5]) {
      const img = readFileSync(join(dir, 'big.img'));
      img[at]! ^= 0x40;
      writeFileSync(join(dir, 'big-bad.img'), img);
      const r = run('extract', 'big-bad.img', '-o', 'big-out');
      assert.equal(r.code, 1, `a bad byte at ${at}`);
      assert.match(r.err, /data CRC/);
      assert.deepEqual(readdirSync(dir).filter((f) => f.includes('big-out')), []);
      const l = run('list', 'big-bad.img');
      assert.equal(l.code, 1, `list, a bad byte at ${at}`);
      assert.match(l.err, /data CRC is 0x[0-9a-f]{8}, the header says 0x[0-9a-f]{8} \(at 0x18\)/);
    }
    assert.equal(run('extract', '--no-verify', 'big-bad.img', '-o', 'big-out').code, 0);
    assert.equal(readFileSync(join(dir, 'big-out')).length, big.length);
    assert.equal(run('extract', 'big.img', '-o', 'big-ok').code, 0);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'big-ok'))), big);
  });
});
