/**
 * What the install-time native builds share: checks for the build tools, and how to run node-gyp
 * without network (npm's own node-gyp, Node's installed headers).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const say = (m) => process.stderr.write(`imgkit: ${m}\n`);

/** The first of `tools` not on PATH, or undefined. */
export const missingTool = (tools) => tools.find((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

/**
 * Runs `node-gyp rebuild` in `dir` with `env`; returns spawnSync's result, or a string saying why
 * it could not start.
 */
export function gypRebuild(dir, env) {
  // npm puts its own node-gyp on PATH for lifecycle scripts; otherwise use the one bundled with npm
  let gyp = ['node-gyp'];
  if (missingTool(['node-gyp'])) {
    const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (!existsSync(bundled)) return 'node-gyp not found';
    gyp = [process.execPath, bundled];
  }
  // Node's own headers, when installed beside it, spare node-gyp a download (there may be no network)
  const prefix = join(dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
  const args = [...gyp.slice(1), 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  return spawnSync(gyp[0], args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
}
