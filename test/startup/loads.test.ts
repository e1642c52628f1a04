/**
 * Start-up: each command loads only the modules its work needs (Node's start is most of a short
 * command's time, and every module loaded adds to it). The CLIs run with a loader hook that
 * records each module; the test names, per command, what must stay unloaded.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, root, tempDir } from '../helpers.js';
import { nativeCodecs } from '../../src/codec/native.js';

const HOOK = join(root, 'test/startup/trace-loads.mjs');

/** The dist/ ES modules (paths under dist/) that `bin/<cli> ...args` loads; the command must succeed. */
function loads(dir: string, cli: string, ...args: string[]): string[] {
  const mods = loadsWith(dir, {}, cli, ...args);
  assert.ok(mods.length > 0, 'the hook saw the modules');
  return mods;
}

/** As {@link loads}, with `env` added, and no module loaded allowed. */
function loadsWith(dir: string, env: NodeJS.ProcessEnv, cli: string, ...args: string[]): string[] {
  const log = join(dir, 'loads.txt');
  rmSync(log, { force: true });
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', HOOK, join(root, 'bin', cli), ...args], {
    cwd: dir, encoding: 'utf8', env: { ...process.env, IMGKIT_TRACE_LOADS: log, SOURCE_DATE_EPOCH: '0', ...env },
  });
  assert.equal(r.status, 0, `${cli} ${args.join(' ')}: ${r.stderr}`);
  return readFileSync(log, 'utf8').split('\n').filter((u) => u.includes('/dist/')).map((u) => u.slice(u.indexOf('/dist/') + 6));
}

function assertNone(mods: string[], forbidden: RegExp[], what: string): void {
  const bad = mods.filter((m) => forbidden.some((f) => f.test(m)));
  assert.deepEqual(bad, [], `${what} loads modules it does not need`);
}

const DTS_COMPILER = [/^dtb\/dts\//, /^dtb\/cpp\.js$/, /^dtb\/index\.js$/];
const FIT_BUILD = [/^uimage\/fit-(write|model|auto)\.js$/, /^cli\/uimage-fit-build\.js$/];
const OTHER_FORMATS = (keep: string) => ['bootimg', 'uimage', 'dtb', 'cpio', 'squashfs'].filter((f) => f !== keep).map((f) => new RegExp(`^${f}/`));

describe('start-up: what each command loads', () => {
  let dir: string;
  before(() => {
    ensureBuilt('dist/cli/uimage.js');
    dir = tempDir('imgkit-loads-');
    copyFileSync(join(root, 'samples/uimage/vmlinux.bin'), join(dir, 'vmlinux.bin'));
    copyFileSync(join(root, 'test/fixtures/dtb/features.dtb'), join(dir, 'board.dtb'));
    copyFileSync(join(root, 'test/fixtures/squashfs/golden.sqfs'), join(dir, 'golden.sqfs'));
    copyFileSync(join(root, 'test/fixtures/bootimg/v2.img'), join(dir, 'v2.img'));
    cpSync(join(root, 'samples/cpio/rootfs'), join(dir, 'rootfs'), { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('uimage pack, list and extract of a legacy image: no FIT, no device-tree compiler', () => {
    const pack = loads(dir, 'uimage', 'pack', '-q', '-A', 'arm', '-T', 'kernel', '-C', 'none', '-d', 'vmlinux.bin', 'k.uimg');
    assertNone(pack, [/^uimage\/fit-/, /^cli\/uimage-fit/, ...DTS_COMPILER, ...OTHER_FORMATS('uimage').filter((r) => !/dtb/.test(r.source))], 'uimage pack');
    for (const args of [['list', 'k.uimg'], ['extract', 'k.uimg', '-o', 'k.bin']])
      assertNone(loads(dir, 'uimage', ...args), [/^uimage\/fit-/, /^cli\/uimage-fit/, /^uimage\/legacy-write\.js$/, /^uimage\/mkimage\.js$/, ...DTS_COMPILER, ...OTHER_FORMATS('uimage').filter((r) => !/dtb/.test(r.source))], `uimage ${args[0]}`);
  });

  it('uimage list and extract of a FIT: the reading side only', () => {
    loads(dir, 'uimage', 'fit', '-q', '-f', 'auto', '-A', 'arm', '-O', 'linux', '-T', 'kernel', '-C', 'none', '-a', '0x8000', '-e', '0x8000', '-d', 'vmlinux.bin', '-b', 'board.dtb', 'k.itb');
    for (const args of [['list', 'k.itb'], ['extract', 'k.itb', '-p', '0', '-o', 'fit0.bin']])
      assertNone(loads(dir, 'uimage', ...args), [...FIT_BUILD, ...DTS_COMPILER, /^uimage\/legacy-write\.js$/], `uimage ${args[0]} (FIT)`);
  });

  it('squashfs ls and extract: no writing side; bootimg info, initramfs ls and extract: their format only, reading side', () => {
    const writing = [/^squashfs\/(write|pack|mksquashfs|pool|pseudo|packfile|data|tree)\.js$/, ...OTHER_FORMATS('squashfs')];
    // ls -l IMG: the native listing, from the CommonJS launcher, loads no ES module at all
    if (nativeCodecs()?.squashfsListing) assert.deepEqual(loadsWith(dir, {}, 'squashfs', 'ls', '-l', 'golden.sqfs'), [], 'squashfs ls -l (native)');
    for (const [env, args] of [[{ IMGKIT_NATIVE: '0' }, ['ls', '-l', 'golden.sqfs']], [{}, ['ls', '-l', '--offset', '0', 'golden.sqfs']], [{}, ['extract', 'golden.sqfs', 'sq']]] as const) {
      const mods = loadsWith(dir, env, 'squashfs', ...args);
      assert.ok(mods.length > 0, 'the hook saw the modules');
      assertNone(mods, writing, `squashfs ${args.join(' ')}`);
    }
    assertNone(loads(dir, 'bootimg', 'info', 'v2.img'), OTHER_FORMATS('bootimg'), 'bootimg info');
    loads(dir, 'initramfs', 'pack', '--dir', 'rootfs', '-o', 'r.cpio');
    for (const args of [['ls', 'r.cpio'], ['extract', 'r.cpio', 'x']])
      assertNone(loads(dir, 'initramfs', ...args), [/^cpio\/(write|tree|spec)\.js$/, ...OTHER_FORMATS('cpio')], `initramfs ${args[0]}`);
  });

  it('fdt compile from a blob, dump and get: no preprocessor, no overlays', () => {
    for (const args of [['compile', '-I', 'dtb', '-O', 'dts', '-o', 'b.dts', 'board.dtb'], ['dump', 'board.dtb'], ['get', 'board.dtb', '/', 'compatible']])
      assertNone(loads(dir, 'fdt', ...args), [/^dtb\/cpp\.js$/, /^dtb\/overlay\.js$/, /^dtb\/index\.js$/, ...OTHER_FORMATS('dtb')], `fdt ${args[0]}`);
  });

  it('xz and lzma through the native addon: lzma-native (about 15 ms to load) stays unloaded', { skip: !nativeCodecs()?.lzmaDecoder && 'the native addon is not built' }, () => {
    // a CommonJS preload that says, as the process exits, whether lzma-native was required
    const preload = join(dir, 'lzma-native-loaded.cjs');
    writeFileSync(preload, "process.on('exit', () => process.stderr.write('lzma-native loaded: ' + Object.keys(require.cache).some((k) => k.includes('/lzma-native/')) + '\\n'));\n");
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['--require', preload, join(root, 'bin/imgkit'), ...args], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      return /lzma-native loaded: (true|false)/.exec(r.stderr)?.[1];
    };
    writeFileSync(join(dir, 'data'), 'hello '.repeat(1000));
    assert.equal(run('compress', '--format', 'lzma', 'data', '-o', 'data.lzma'), 'false', 'compress --format lzma');
    assert.equal(run('decompress', 'data.lzma', '-o', 'data.out'), 'false', 'decompress of .lzma');
    assert.equal(readFileSync(join(dir, 'data.out'), 'utf8'), 'hello '.repeat(1000));
    writeFileSync(join(dir, 'data.xz'), spawnSync('xz', ['-c'], { input: 'hello' }).stdout);
    assert.equal(run('decompress', 'data.xz', '-o', 'data.out'), 'false', 'decompress of .xz');
    // and the check can tell: without the addon it is loaded
    const r = spawnSync(process.execPath, ['--require', preload, join(root, 'bin/imgkit'), 'decompress', 'data.xz', '-o', 'data.out'], { cwd: dir, encoding: 'utf8', env: { ...process.env, IMGKIT_NATIVE: '0' } });
    assert.match(r.stderr, /lzma-native loaded: true/);
  });
});
