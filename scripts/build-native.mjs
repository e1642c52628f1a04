#!/usr/bin/env node
/**
 * Builds imgkit's native codecs (native/imgkit.c, and imgkit's own LZMA encoder native/lzenc.c) at
 * install time, against the system's zlib, libzstd, liblz4 and liblzma: the libraries mksquashfs
 * links, so squashfs gzip, zstd, lz4 and xz blocks come out byte for byte as mksquashfs's (Debian:
 * zlib1g-dev libzstd-dev liblz4-dev liblzma-dev);
 * and against libdeflate (libdeflate-dev), the faster deflate encoder behind `squashfs pack -Xlibdeflate`.
 *
 * Best effort: each library is used when its header is found; without a compiler, python3,
 * Node's headers or any of the headers (or with IMGKIT_NATIVE=0) there is no addon and imgkit
 * compresses with node:zlib, zstd's WebAssembly build and its JavaScript lz4: same formats,
 * other compressed bytes. Never fails the install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gypRebuild, missingTool, say } from './gyp.mjs';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
// name, headers (their IMGKIT_*_H macros in config.h)
const LIBS = [
  ['zlib', ['zlib.h']],
  ['libzstd', ['zstd.h']],
  ['liblz4', ['lz4.h', 'lz4hc.h']],
  ['liblzma', ['lzma.h']],
  ['libdeflate', ['libdeflate.h']],
];

/** The absolute path the C compiler includes for `<header>`, or undefined. */
function headerPath(header) {
  const r = spawnSync('cc', ['-M', '-x', 'c', '-'], { input: `#include <${header}>\n`, encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return r.stdout.split(/[\s\\]+/).find((p) => p.endsWith(`/${header}`));
}

function main() {
  const addon = join(dir, 'build', 'Release', 'imgkit_native.node');
  if (process.env.IMGKIT_NATIVE === '0') {
    rmSync(join(dir, 'build'), { recursive: true, force: true });
    return say('IMGKIT_NATIVE=0: no native codecs; squashfs gzip/zstd/lz4 blocks compress with node:zlib, WebAssembly and JavaScript');
  }
  if (process.platform === 'win32') return;
  const tool = missingTool(['make', 'cc', 'python3']);
  if (tool) return say(`no ${tool}: no native codecs (squashfs gzip/zstd/lz4 images will differ from mksquashfs's in compressed bytes)`);
  // a header is found where the compiler looks: ask it
  const config = ['/* written by scripts/build-native.mjs */'];
  const found = [];
  for (const [name, headers] of LIBS) {
    const paths = headers.map(headerPath);
    if (paths.some((p) => !p)) {
      say(`no ${headers.join('/')} (${name} development files): that codec stays non-native`);
      continue;
    }
    found.push(name);
    headers.forEach((h, i) => config.push(`#define IMGKIT_${h.replace('.h', '').toUpperCase()}_H ${JSON.stringify(paths[i])}`));
  }
  if (!found.length) return;
  writeFileSync(join(dir, 'config.h'), config.join('\n') + '\n');
  const r = gypRebuild(dir, process.env);
  if (typeof r === 'string' || r.status !== 0 || !existsSync(addon)) {
    rmSync(join(dir, 'build'), { recursive: true, force: true });
    // the compiler's own errors first: node-gyp's trailer alone says only that make failed
    const lines = typeof r === 'string' ? [r] : (r.stderr ?? String(r.error)).split('\n');
    const why = [...lines.filter((l) => / error: /.test(l)).slice(0, 5), ...lines.slice(-3)].join('\n');
    return say(`building the native codecs failed; they stay non-native:\n${why}`);
  }
  say(`native codecs built: ${found.join(', ')}`);
}

main();
