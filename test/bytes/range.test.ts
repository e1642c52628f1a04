/**
 * Synchronous range reads of local files: scanRange (one reused buffer) and rangePayload's pooled
 * chunks, which come back for reuse only once a file sink has written them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { bytesAccess, fileAccess, scanRange } from '../../src/bytes/random.js';
import { rangePayload } from '../../src/bytes/payload.js';
import { pipeInto, withOutputFile } from '../../src/bytes/sink.js';
import { FormatError } from '../../src/bytes/errors.js';
import { tempDir } from '../helpers.js';

const data = new Uint8Array(3.5 * 1024 * 1024 + 77).map((_, i) => (i * 2654435761) >>> 24);

describe('synchronous range reads', () => {
  const dir = tempDir();
  const path = join(dir, 'in.bin');
  writeFileSync(path, data);

  it('scanRange sees every byte once, in order, from a file and from memory', async () => {
    const ra = await fileAccess(path);
    try {
      assert.ok(ra.readIntoSync);
      for (const [off, len] of [[0, data.length], [5, 1_000_003], [data.length - 10, 10], [100, 0]] as const) {
        let c = 0, n = 0;
        await scanRange(ra, off, len, (chunk) => ((c = crc32(chunk, c)), (n += chunk.length)));
        assert.equal(n, len);
        assert.equal(c, crc32(data.subarray(off, off + len)));
        let m = 0;
        await scanRange(bytesAccess(data), off, len, (chunk) => (m = crc32(chunk, m)));
        assert.equal(m, c);
      }
      await assert.rejects(scanRange(ra, data.length - 5, 10, () => {}), FormatError);
    } finally {
      await ra.close?.();
    }
  });

  it('pooled chunks: written to a file they are reused and the copy is exact; kept in memory they are never reused', async () => {
    const ra = await fileAccess(path);
    try {
      const out = join(dir, 'out.bin');
      await withOutputFile(out, (sink) => pipeInto(sink, rangePayload(ra, 3, data.length - 3).chunks()));
      assert.deepEqual(new Uint8Array(readFileSync(out)), data.subarray(3));
      const kept: Uint8Array[] = [];
      for await (const c of rangePayload(ra, 0, data.length).chunks()) kept.push(c);
      assert.equal(new Set(kept.map((c) => c.buffer)).size, kept.length, 'a chunk nobody wrote was handed out again');
      assert.deepEqual(Buffer.concat(kept), Buffer.from(data));
    } finally {
      await ra.close?.();
    }
  });
});
