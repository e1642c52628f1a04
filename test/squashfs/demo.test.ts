/** The squashfs images of `npm run demo`: built from samples/squashfs, readable, the same bytes every time. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildSamples } from '../../src/cli/demo-squashfs.js';
import { root, tempDir } from '../helpers.js';

it('demo: builds the sample squashfs images deterministically', async () => {
  const a = tempDir('imgkit-sqfs-demo-'), b = tempDir('imgkit-sqfs-demo-');
  try {
    const ra = await buildSamples(a, join(root, 'samples'));
    const rb = await buildSamples(b, join(root, 'samples'));
    assert.equal(ra.length, 2);
    for (let i = 0; i < ra.length; i++) {
      assert.ok(readFileSync(ra[i]!.path).equals(readFileSync(rb[i]!.path)), ra[i]!.path);
      assert.equal(ra[i]!.listing, rb[i]!.listing);
    }
    assert.match(ra[0]!.listing, /crw------- 0\/0 +5, {2}1 .* squashfs-root\/dev\/console/);
    assert.match(ra[1]!.listing, /squashfs-root\/www\/index.html/);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
