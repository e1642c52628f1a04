/**
 * Streaming: a 1 GiB payload packs and verifies in bounded memory. The input is a sparse 1 GiB file
 * (no disk blocks); a child process packs it, reopens the image, checks both CRCs and streams the data
 * out, and reports its peak RSS and ArrayBuffer memory, which must stay far below the image size.
 * No timings are asserted. The data CRC is checked against Python's zlib.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { has, root, tempDir } from '../helpers.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const statfsFree = (p: string) => { const s = statfsSync(p); return s.bavail * s.bsize; };

let dir = '';
// the 1 GiB output goes to tmpfs when there is one: the test is about memory, not disk speed
before(() => (dir = existsSync('/dev/shm') && statfsFree('/dev/shm') > 3 * GiB ? mkdtempSync('/dev/shm/imgkit-uimage-stream-') : tempDir('imgkit-uimage-stream-')));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('uimage streaming', () => {
  it('packs and verifies a 1 GiB payload with peak RSS under 256 MiB', () => {
    const input = join(dir, 'big.bin');
    writeFileSync(input, '');
    truncateSync(input, GiB); // sparse: reads as zeros
    const output = join(dir, 'big.uimg');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/uimage/stream-child.ts'), input, output], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { size: number; dcrc: number; extracted: number; peakRss: number; peakBuffers: number; maxRssKiB: number };
    assert.equal(res.size, GiB);
    assert.equal(res.extracted, GiB);
    assert.equal(statSync(output).size, GiB + 64);
    assert.ok(res.maxRssKiB * 1024 < 256 * MiB, `peak RSS ${(res.maxRssKiB / 1024).toFixed(0)} MiB`);
    assert.ok(res.peakBuffers < 128 * MiB, `peak ArrayBuffer memory ${(res.peakBuffers / MiB).toFixed(0)} MiB`);
    // the data CRC of 1 GiB of zeros, computed by another implementation (Python's zlib)
    if (has('python3')) {
      const py = spawnSync('python3', ['-c', 'import zlib\nc=0\nz=bytes(1<<24)\nfor _ in range(64): c=zlib.crc32(z,c)\nprint(c)'], { encoding: 'utf8' });
      assert.equal(res.dcrc, Number(py.stdout.trim()));
    }
    rmSync(output);
  });
});
