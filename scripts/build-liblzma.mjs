#!/usr/bin/env node
/**
 * Rebuilds lzma-native's addon with an optimized liblzma, at install time.
 *
 * lzma-native's prebuilt binaries link the xz 5.2.3 it bundles, configured with
 * `CFLAGS="-fPIC $CFLAGS"` (liblzma-config.sh). Setting CFLAGS replaces autoconf's default
 * `-g -O2`, so that liblzma is compiled without optimization: its encoder runs at about half the
 * speed of Debian's xz on the same settings (same output bytes). Building it again with
 * `CFLAGS=-O2` gives the same bytes at xz's speed. node-gyp-build loads `build/Release` before
 * the prebuilds, so the rebuilt addon is the one used.
 *
 * Best effort: without a compiler, python3 or Node's headers (or with IMGKIT_LZMA_PREBUILT=1) the
 * prebuilt addon stays, and everything still works, only slower. Never fails the install.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gypRebuild, missingTool, say } from './gyp.mjs';

const MARK = 'imgkit-liblzma-O2';

function main() {
  if (process.env.IMGKIT_LZMA_PREBUILT === '1') return say('IMGKIT_LZMA_PREBUILT=1: keeping lzma-native\'s prebuilt addon');
  if (process.platform === 'win32') return; // the Windows prebuilds link their own liblzma.dll
  let dir;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('lzma-native/package.json'));
  } catch {
    return; // not installed (e.g. npm ci --omit=optional): nothing to rebuild
  }
  const mark = join(dir, 'build', MARK);
  const addon = join(dir, 'build', 'Release', 'lzma_native.node');
  const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  if (existsSync(addon) && existsSync(mark) && readFileSync(mark, 'utf8') === `${version} ${process.version}\n`) return;
  const tool = missingTool(['make', 'cc', 'c++', 'python3']);
  if (tool) return say(`no ${tool}: keeping lzma-native's prebuilt (unoptimized) liblzma; xz/LZMA compression runs at about half speed`);
  say('building lzma-native with an optimized liblzma (CFLAGS=-O2), about a minute…');
  const r = gypRebuild(dir, { ...process.env, CFLAGS: `-O2 ${process.env.CFLAGS ?? ''}`.trim() });
  if (typeof r === 'string') return say(`${r}: keeping lzma-native's prebuilt liblzma`);
  if (r.status !== 0 || !existsSync(addon)) {
    // a half-built build/ must not shadow the prebuilds
    rmSync(join(dir, 'build'), { recursive: true, force: true });
    return say(`building lzma-native failed; keeping its prebuilt liblzma:\n${(r.stderr ?? String(r.error)).split('\n').slice(-8).join('\n')}`);
  }
  // the liblzma sources and objects are not needed once linked into the addon
  rmSync(join(dir, 'build', 'liblzma'), { recursive: true, force: true });
  writeFileSync(mark, `${version} ${process.version}\n`);
}

main();
