import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { workerHash, localHash } from '../../src/bootimg/hash-worker.js';

describe('id hashing off the main thread', () => {
  it('the worker and the local hash give node:crypto\'s digest for any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 3 << 20 }), { maxLength: 6 }), fc.constantFrom('sha1' as const, 'sha256' as const), async (chunks, algo) => {
        const want = createHash(algo);
        const w = workerHash(algo);
        const l = localHash(algo);
        for (const c of chunks) {
          want.update(c);
          await w.update(c);
          await l.update(c);
        }
        const d = new Uint8Array(want.digest());
        assert.deepEqual(await w.digest(), d);
        assert.deepEqual(await l.digest(), d);
      }),
      { seed: 5, numRuns: 8 },
    );
  });
});
