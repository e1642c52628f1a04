/**
 * `fdt compile` prints dtc 1.6.1's error messages for what dtc rejects: the same stderr lines, the same
 * FILE:LINE.COL-COL positions. Corpus: test/fixtures/dtb/errors/*.dts (see test/fixtures/dtb/SOURCES.md);
 * expected.txt is dtc's recorded stderr and exit status for each.
 *
 * Exit status: ours is 1 for every rejected input (the imgkit CLI convention: 1 bad input, 2 usage).
 * dtc exits 1 when parsing fails and 2 when its checks fail ("ERROR: Input tree has errors"); both mean
 * "no output, fix the source", and diff.test.ts relies on 1, so we keep 1 and assert dtc's is 1 or 2.
 *
 * Two suites: ours against the recorded output (no dtc needed), and a live differential one against the
 * installed dtc (skipped with a message when dtc is missing, failing under CI).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, skipUnless } from './helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = join(root, 'test/fixtures/dtb/errors');
const cases = readdirSync(dir).filter((f) => f.endsWith('.dts')).sort();

/** expected.txt: `### NAME.dts`, dtc's stderr, `### exit N` (mid-line when the stderr does not end in a newline), for each case. */
function recorded(): Map<string, { err: string; code: number }> {
  const out = new Map<string, { err: string; code: number }>();
  const re = /^### (\S+\.dts)\n([^]*?)### exit (\d+)\n/gm;
  for (const m of readFileSync(join(dir, 'expected.txt'), 'latin1').matchAll(re)) out.set(m[1]!, { err: m[2]!, code: Number(m[3]) });
  return out;
}

/** The CLI as built (dist) when that is newer than every source file, else straight from the sources via tsx. */
function cliCommand(): string[] {
  const built = join(root, 'dist/cli/fdt.js');
  if (existsSync(built)) {
    const t = statSync(built).mtimeMs;
    const newest = (d: string): number =>
      Math.max(0, ...readdirSync(d, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(d, e.name)) : e.name.endsWith('.ts') ? statSync(join(d, e.name)).mtimeMs : 0)));
    if (newest(join(root, 'src')) <= t) return [built];
  }
  return ['--import', 'tsx', join(root, 'src/cli/fdt.ts')];
}

function spawnCollect(cmd: string, args: string[]): Promise<{ code: number; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const chunks: Buffer[] = [];
    p.stderr.on('data', (c: Buffer) => chunks.push(c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, err: Buffer.concat(chunks).toString('latin1') }));
  });
}

/** Our CLI on every case, a few at a time: `fdt compile -I dts -O dtb -o /dev/null NAME.dts`, run in the corpus folder. */
async function runOurs(): Promise<Map<string, { code: number; err: string }>> {
  const cmd = cliCommand();
  const out = new Map<string, { code: number; err: string }>();
  const queue = [...cases];
  const worker = async (): Promise<void> => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift())
      out.set(f, await spawnCollect(process.execPath, [...cmd, 'compile', '-I', 'dts', '-O', 'dtb', '-o', '/dev/null', f]));
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}

let ours = new Map<string, { code: number; err: string }>();
before(async () => {
  ours = await runOurs();
});

describe('fdt compile: dtc 1.6.1 error messages (recorded)', () => {
  const exp = recorded();
  it('expected.txt covers every case', () => {
    assert.deepEqual([...exp.keys()].sort(), cases);
  });
  for (const f of cases) {
    it(f, () => {
      const e = exp.get(f);
      assert.ok(e, `${f} is missing from expected.txt`);
      const o = ours.get(f)!;
      assert.equal(o.err, e.err);
      assert.ok(e.code === 1 || e.code === 2, `dtc rejects ${f}`);
      assert.equal(o.code, 1, 'exit status 1 for bad input (dtc: 1 parse errors, 2 failed checks)');
    });
  }
});

describe('fdt compile vs dtc: error messages (live)', { skip: skipUnless('dtc') }, () => {
  for (const f of cases) {
    it(f, () => {
      const ref = run('dtc', ['-I', 'dts', '-O', 'dtb', '-o', '/dev/null', f], { cwd: dir });
      assert.ok(ref.code === 1 || ref.code === 2, `dtc rejects ${f} (exit ${ref.code})`);
      const o = ours.get(f)!;
      assert.equal(o.err, Buffer.from(ref.err).toString('latin1'));
      assert.equal(o.code, 1);
    });
  }
});
