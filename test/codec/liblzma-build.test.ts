/**
 * lzma-native's addon as installed: scripts/build-liblzma.mjs (postinstall) rebuilds it with an
 * optimized liblzma where a compiler exists, and the rebuilt addon must be the one loaded. Under CI
 * (which installs with a compiler) the rebuild is required; elsewhere the prebuilt is allowed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const dir = dirname(require.resolve('lzma-native/package.json'));
const rebuilt = join(dir, 'build', 'Release', 'lzma_native.node');

describe('lzma-native addon', () => {
  it('loads the optimized build when there is one (required under CI)', { skip: !process.env.CI && !existsSync(rebuilt) && 'lzma-native was not rebuilt here (no compiler at install time)' }, () => {
    assert.ok(existsSync(join(dir, 'build', 'imgkit-liblzma-O2')), 'scripts/build-liblzma.mjs did not finish');
    const gypBuild = createRequire(join(dir, 'package.json'))('node-gyp-build') as { path(dir: string): string };
    assert.equal(gypBuild.path(dir), rebuilt);
  });

  it('the rebuilt addon encodes and decodes', async () => {
    const lzma = require('lzma-native') as { compress(b: Buffer, o: object, cb: (r: Buffer) => void): void; decompress(b: Buffer, o: object, cb: (r: Buffer) => void): void };
    const input = Buffer.from('imgkit '.repeat(1000));
    const packed = await new Promise<Buffer>((r) => lzma.compress(input, { preset: 6 }, r));
    const back = await new Promise<Buffer>((r) => lzma.decompress(packed, {}, r));
    assert.deepEqual(back, input);
  });
});
