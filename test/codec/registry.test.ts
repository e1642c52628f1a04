import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { getCodec, type CompressionId } from '../../src/codec/index.js';
import { root } from '../helpers.js';

const ALL: readonly CompressionId[] = ['gzip', 'zlib', 'xz', 'lzma', 'zstd', 'lz4', 'lz4-legacy', 'bzip2', 'lzo'];

/** Modules reached from `entry` by imports that survive compilation (`import type` is erased). */
function staticClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(join(root, entry));
  return { files, packages };
}

describe('codec registry', () => {
  it('importing the codec index loads no implementation module and no package', () => {
    const { files, packages } = staticClosure('src/codec/index.ts');
    const names = [...files].map((f) => relative(root, f)).sort();
    assert.deepEqual(names, ['src/bytes/errors.ts', 'src/codec/detect.ts', 'src/codec/index.ts', 'src/codec/registry.ts']);
    assert.deepEqual([...packages], []);
  });

  it('lzma-native and the zstd WebAssembly are loaded on first use (an xz encoder, the WebAssembly\'s first call), not at import', () => {
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(process.cwd() + '/').cache;
      const heavy = () => Object.keys(cache).filter((k) => /lzma-native|zstd-wasm/.test(k)).map((k) => k.replace(/.*node_modules\\//, '')).sort();
      const { getCodec, detectCompression } = await import('./src/codec/index.ts');
      await import('./src/codec/registry.ts');
      detectCompression(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]));
      const before = heavy();
      await getCodec('gzip');
      const afterGzip = heavy();
      const xz = await getCodec('xz');
      const afterXz = heavy();
      await xz.encode(new Uint8Array(10)); // lzma-native's encoder
      await (await getCodec('zstd')).encode(new Uint8Array(10)); // the WebAssembly is compiled on first use
      console.log(JSON.stringify({ before, afterGzip, afterXz, after: heavy() }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { before, afterGzip, afterXz, after } = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string[]>;
    assert.deepEqual(before, []);
    assert.deepEqual(afterGzip, []);
    assert.deepEqual(afterXz, [], 'the xz codec module alone does not load lzma-native');
    assert.ok(after!.some((k) => k.startsWith('lzma-native/')), `lzma-native not loaded: ${after!.join(', ')}`);
    assert.ok(after!.some((k) => k.startsWith('@bokuweb/zstd-wasm/')), `zstd-wasm not loaded: ${after!.join(', ')}`);
  });

  it('getCodec returns one codec per id, with that id', async () => {
    for (const id of ALL) {
      const codec = await getCodec(id);
      assert.equal(codec.id, id);
      assert.equal(await getCodec(id), codec);
      assert.equal(typeof codec.decode, 'function');
    }
    assert.equal((await getCodec('lzo')).encode, undefined);
    assert.equal(typeof (await getCodec('bzip2')).encode, 'function');
  });

  it('an unknown id is a TypeError (a caller mistake, not bad input)', async () => {
    await assert.rejects(getCodec('brotli' as CompressionId), TypeError);
    await assert.rejects(getCodec('toString' as CompressionId), TypeError);
  });
});
