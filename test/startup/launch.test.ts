/**
 * The bin/ launchers: a shell line starts Node without NODE_EXTRA_CA_CERTS (Node 20 parses that
 * bundle while it starts, ~70 ms, and the CLIs open no TLS connection), and the JavaScript restores
 * it for the commands a CLI runs. Run with `node bin/<cli>`, the file is plain JavaScript.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, root, tempDir } from '../helpers.js';

const CLIS = ['imgkit', 'bootimg', 'uimage', 'fdt', 'initramfs', 'squashfs'];
/** A path Node cannot read: loading it at start-up prints "Warning: Ignoring extra certs". */
const MISSING = '/nonexistent/imgkit-extra-ca.pem';

describe('bin/ launchers', () => {
  let dir: string;
  before(() => {
    ensureBuilt('dist/cli/squashfs.js');
    dir = tempDir('imgkit-launch-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every CLI in bin/ has a launcher, and package.json names them all', () => {
    // package.json makes the launchers CommonJS: squashfs's native listing runs before any ES module loads
    assert.deepEqual(readdirSync(join(root, 'bin')).sort(), [...CLIS, 'package.json'].sort());
    assert.equal(JSON.parse(readFileSync(join(root, 'bin/package.json'), 'utf8')).type, 'commonjs');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.deepEqual(Object.entries(pkg.bin).sort(), CLIS.map((c) => [c, `bin/${c}`]).sort());
    for (const cli of CLIS) {
      const [shebang, line] = readFileSync(join(root, 'bin', cli), 'utf8').split('\n');
      assert.equal(shebang, '#!/bin/sh', cli);
      assert.match(line!, /NODE_EXTRA_CA_CERTS= exec node .*"\$0" "\$@"$/, cli);
    }
  });

  for (const cli of CLIS) {
    it(`${cli}: Node starts without NODE_EXTRA_CA_CERTS (no certificate warning), also through a link`, () => {
      const link = join(dir, `link-${cli}`);
      rmSync(link, { force: true });
      symlinkSync(join(root, 'bin', cli), link);
      for (const exe of [join(root, 'bin', cli), link]) {
        const r = spawnSync(exe, ['--help'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: MISSING } });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /Usage:/);
        assert.doesNotMatch(r.stderr, /extra certs/i);
      }
    });
  }

  it('started by Node directly, a launcher is plain JavaScript and leaves the variable alone', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/fdt'), '--help'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: MISSING } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Ignoring extra certs/, 'this Node reads the variable at start-up (what the launcher avoids)');
  });

  it('commands a CLI runs see the variable as it was given (set, empty, unset)', () => {
    const pf = join(dir, 'p.txt');
    writeFileSync(pf, 'ca f 644 0 0 sh -c \'printf "%s:%s" "${NODE_EXTRA_CA_CERTS-unset}" "${IMGKIT_EXTRA_CA_CERTS-unset}"\'\n');
    const cases: [string | undefined, string][] = [[MISSING, `${MISSING}:unset`], ['', 'unset:unset'], [undefined, 'unset:unset']];
    for (const [value, expected] of cases) {
      const env: NodeJS.ProcessEnv = { ...process.env, SOURCE_DATE_EPOCH: '0' };
      delete env.NODE_EXTRA_CA_CERTS;
      if (value !== undefined) env.NODE_EXTRA_CA_CERTS = value;
      const img = join(dir, 'ca.sqfs');
      const pack = spawnSync(join(root, 'bin/squashfs'), ['pack', '-', img, '-pf', pf, '-noappend', '-no-progress', '-quiet'], { cwd: dir, encoding: 'utf8', env });
      assert.equal(pack.status, 0, pack.stderr);
      const cat = spawnSync(join(root, 'bin/squashfs'), ['cat', img, 'ca'], { cwd: dir, encoding: 'utf8' });
      assert.equal(cat.status, 0, cat.stderr);
      assert.equal(cat.stdout, expected, `NODE_EXTRA_CA_CERTS ${value === undefined ? 'unset' : JSON.stringify(value)}`);
    }
  });

  it('for squashfs extract, libuv\'s thread pool gets one thread per core up to 4, unless UV_THREADPOOL_SIZE is set', () => {
    // a `node` and an `nproc` of the test's own, first on PATH: the launcher's shell line is what runs
    const fake = join(dir, 'fake-bin');
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, 'node'), '#!/bin/sh\nprintf "%s" "${UV_THREADPOOL_SIZE-unset}"\n', { mode: 0o755 });
    writeFileSync(join(fake, 'nproc'), '#!/bin/sh\necho "$FAKE_NPROC"\n', { mode: 0o755 });
    const pool = (cli: string, args: string[], cores: number, preset?: string) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${fake}:${process.env.PATH}`, FAKE_NPROC: String(cores) };
      delete env.UV_THREADPOOL_SIZE;
      if (preset !== undefined) env.UV_THREADPOOL_SIZE = preset;
      const r = spawnSync(join(root, 'bin', cli), args, { encoding: 'utf8', env });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(pool('squashfs', ['extract', 'i', 'd'], 1), '1');
    assert.equal(pool('squashfs', ['extract', 'i', 'd'], 2), '2');
    assert.equal(pool('squashfs', ['extract', 'i', 'd'], 3), '3');
    assert.equal(pool('squashfs', ['extract', 'i', 'd'], 16), 'unset');
    assert.equal(pool('squashfs', ['extract', 'i', 'd'], 2, '7'), '7');
    assert.equal(pool('squashfs', ['ls', 'i'], 2), 'unset');
    assert.equal(pool('imgkit', ['squashfs', 'extract', 'i', 'd'], 2), '2');
    assert.equal(pool('imgkit', ['squashfs', 'ls', 'i'], 2), 'unset');
    assert.equal(pool('bootimg', ['extract', 'i'], 2), 'unset');
  });

  it('packing starts Node with a 2 MiB young generation; every other command without V8 flags (which cost Node its code cache)', () => {
    const fake = join(dir, 'fake-args');
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, 'node'), '#!/bin/sh\nprintf "%s|" "$@"\n', { mode: 0o755 });
    const flags = (cli: string, args: string[]) => {
      const r = spawnSync(join(root, 'bin', cli), args, { encoding: 'utf8', env: { ...process.env, PATH: `${fake}:${process.env.PATH}` } });
      assert.equal(r.status, 0, r.stderr);
      // Node's own options: those before the launcher's path
      const argv = r.stdout.split('|');
      return argv.slice(0, argv.indexOf(join(root, 'bin', cli)));
    };
    for (const [cli, args] of [['squashfs', ['pack', 'a', 'b']], ['initramfs', ['pack', '--dir', 'a']], ['imgkit', ['squashfs', 'pack', 'a', 'b']], ['imgkit', ['initramfs', 'pack']]] as const)
      assert.deepEqual(flags(cli, [...args]), ['--max-semi-space-size=2'], `${cli} ${args.join(' ')}`);
    for (const [cli, args] of [['squashfs', ['ls', '-l', 'i']], ['squashfs', ['extract', 'i', 'd']], ['squashfs', ['--help']], ['initramfs', ['ls', 'i']], ['imgkit', ['squashfs', 'info', 'i']], ['bootimg', ['info', 'i']], ['fdt', ['--help']], ['uimage', ['list', 'i']]] as const)
      assert.deepEqual(flags(cli, [...args]), [], `${cli} ${args.join(' ')}`);
  });

  it('through the imgkit umbrella, a tool keeps its exit status: 2 for a usage mistake, 1 for bad input, 0 for success', () => {
    const imgkit = join(root, 'bin/imgkit');
    const input = join(dir, 'in.txt');
    writeFileSync(input, 'abc'.repeat(100));
    const status = (...args: string[]) => spawnSync(imgkit, args, { encoding: 'utf8' }).status;
    assert.equal(status('compress', '--bogus'), 2);
    assert.equal(status('decompress', '--bogus'), 2);
    assert.equal(status('compress', '--format', 'gzip', '--lc', '2', input, '-o', join(dir, 'x.gz')), 2);
    assert.equal(status('bootimg', 'info', join(dir, 'missing')), 1);
    assert.equal(status('decompress', input, '-o', join(dir, 'x')), 1);
    assert.equal(status('compress', '--format', 'gzip', input, '-o', join(dir, 'y.gz')), 0);
  });
});
