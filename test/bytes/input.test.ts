/**
 * Whole inputs read into memory (src/bytes/input.ts): regular files at their size; pipes and
 * devices until they end, and not past a bound, so that an endless input (/dev/zero) is an error,
 * not a hang that fills memory; the commands that read whole inputs use it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../src/bytes/errors.js';
import { readInput, readInputSync, readTextSync, STREAM_INPUT_MAX } from '../../src/bytes/input.js';
import { ensureBuilt, root, tempDir } from '../helpers.js';
import { seeded } from '../squashfs/fixture.js';

describe('readInput', () => {
  it('reads a regular file whole, sync and async, and text as Node reads latin1 and utf8', async () => {
    const dir = tempDir('imgkit-input-');
    try {
      const data = seeded(300_000, 5);
      writeFileSync(join(dir, 'f'), data);
      assert.deepEqual(await readInput(join(dir, 'f'), 'test'), data);
      assert.deepEqual(readInputSync(join(dir, 'f'), 'test'), data);
      writeFileSync(join(dir, 't'), Uint8Array.of(0x61, 0x80, 0x9f, 0xe9, 0xc3, 0xa9));
      assert.equal(readTextSync(join(dir, 't'), 'test', 'latin1'), 'a\x80\x9f\xe9\xc3\xa9');
      assert.equal(readTextSync(join(dir, 't'), 'test', 'utf8'), 'a\ufffd\ufffd\ufffd\xe9');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a FIFO until its writer closes it, and refuses one that goes on past the bound (FormatError LIMIT)', async () => {
    const dir = tempDir('imgkit-input-');
    try {
      const fifo = join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      const data = seeded(3_000_000, 6);
      writeFileSync(join(dir, 'src'), data);
      const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', join(dir, 'src'), fifo]);
      const written = new Promise((r) => writer.on('close', r));
      assert.deepEqual(await readInput(fifo, 'test'), data);
      await written;
      const endless = spawn('sh', ['-c', 'cat "$0" "$0" "$0" > "$1" 2>/dev/null', join(dir, 'src'), fifo]);
      const ended = new Promise((r) => endless.on('close', r));
      await assert.rejects(readInput(fifo, 'test', 5_000_000), (e: unknown) => e instanceof FormatError && e.code === 'LIMIT' && /goes on past 5000000 bytes/.test(e.message));
      await ended; // its writes fail once the reading end is closed
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a folder given as the input file: exit 1, one line naming it, nothing written', () => {
    ensureBuilt('dist/cli/fdt.js');
    const dir = tempDir('imgkit-input-');
    try {
      const out = join(dir, 'out');
      const cmds = [
        ['imgkit', 'compress', '--format', 'gzip', dir, '-o', out], ['imgkit', 'decompress', dir, '-o', out], ['fdt', 'compile', dir, '-o', out],
        ['fdt', 'decompile', dir], ['bootimg', 'info', dir], ['bootimg', 'unpack', dir, '-o', out], ['uimage', 'info', dir],
        ['squashfs', 'ls', dir], ['squashfs', 'extract', dir, out], ['initramfs', 'ls', dir], ['initramfs', 'extract', dir, out],
      ];
      for (const [cli, ...args] of cmds) {
        const r = spawnSync(process.execPath, [join(root, 'bin', cli!), ...args], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 1, `${cli} ${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, `${cli === 'imgkit' ? `imgkit ${args[0]}` : cli}: ${dir}: is a directory, not a file\n`);
        assert.equal(existsSync(out), false, `${cli} ${args.join(' ')}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('commands given /dev/zero stop at the bound with exit 1 and a message, instead of reading forever', () => {
    ensureBuilt('dist/cli/fdt.js');
    for (const [cli, ...args] of [['fdt', 'dump', '/dev/zero'], ['fdt', 'compile', '/dev/zero'], ['initramfs', 'ls', '/dev/zero'], ['imgkit', 'decompress', '/dev/zero', '-o', '/dev/null']] as const) {
      const r = spawnSync(process.execPath, [join(root, 'bin', cli), ...args], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, `${cli} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`Cannot read /dev/zero: it is not a regular file and goes on past ${STREAM_INPUT_MAX} bytes`));
    }
  });
});
