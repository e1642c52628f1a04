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
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const MARK = 'imgkit-liblzma-O2';
const say = (m) => process.stderr.write(`imgkit: ${m}\n`);

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
  for (const tool of ['make', 'cc', 'c++', 'python3']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return say(`no ${tool}: keeping lzma-native's prebuilt (unoptimized) liblzma; xz/LZMA compression runs at about half speed`);
  }
  // npm puts its own node-gyp on PATH for lifecycle scripts; otherwise use the one bundled with npm
  let gyp = ['node-gyp'];
  if (spawnSync('sh', ['-c', 'command -v node-gyp']).status !== 0) {
    const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (!existsSync(bundled)) return say('node-gyp not found: keeping lzma-native\'s prebuilt liblzma');
    gyp = [process.execPath, bundled];
  }
  say('building lzma-native with an optimized liblzma (CFLAGS=-O2), about a minute…');
  const env = { ...process.env, CFLAGS: `-O2 ${process.env.CFLAGS ?? ''}`.trim() };
  // Node's own headers, when installed beside it, spare node-gyp a download (there may be no network)
  const prefix = join(dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
  const args = [...gyp.slice(1), 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  const r = spawnSync(gyp[0], args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
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
