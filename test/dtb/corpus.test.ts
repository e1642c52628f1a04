/**
 * The Linux corpus: every arm, arm64 and mips .dts of Debian's linux-source-6.1, compiled as the
 * kernel does (cpp -nostdinc -I scripts/dtc/include-prefixes -undef -D__DTS__ -x assembler-with-cpp,
 * then dtc -O dtb -b 0 -i <dir> -i scripts/dtc/include-prefixes) and with ours (our cpp, our dtc).
 * The blobs must be identical, and so must dtc's warnings (their file positions come through the
 * preprocessor's line markers). A fixed sample of 200 runs by default; IMGKIT_FULL_CORPUS=1 runs all.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { promisify } from 'node:util';
import { preprocess } from '../../src/dtb/cpp.js';
import { compileDts } from '../../src/dtb/dts/compile.js';
import { fileAccessFor } from '../../src/dtb/dts/files.js';
import { encodeFdt } from '../../src/dtb/write.js';
import { decodeFdt } from '../../src/dtb/read.js';
import { formatDts } from '../../src/dtb/text.js';
import { linuxTree, skipUnless, LINUX_TARBALL, has } from './helpers.js';

const pexec = promisify(execFile);
const full = process.env['IMGKIT_FULL_CORPUS'] === '1';
const SAMPLE = 200;

function listDts(tree: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.dts')) out.push(relative(tree, p));
    }
  };
  for (const a of ['arm', 'arm64', 'mips']) walk(join(tree, 'arch', a, 'boot/dts'));
  return out.sort();
}

/** Every k-th file of the sorted list: a fixed sample that covers all three architectures. */
function sample(files: string[], n: number): string[] {
  if (files.length <= n) return files;
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) out.push(files[Math.floor((i * files.length) / n)]!);
  return out;
}

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const missingTarball = (() => {
  try {
    statSync(LINUX_TARBALL);
    return false;
  } catch {
    return process.env['CI'] ? false : `${LINUX_TARBALL} not present (apt-get install linux-source-6.1)`;
  }
})();

describe('Linux 6.1 DTS corpus: ours vs cpp + dtc', { skip: skipUnless('cpp', 'dtc') || missingTarball }, () => {
  it(`${full ? 'every file' : `a fixed sample of ${SAMPLE} files`} compiles to identical DTBs`, { timeout: full ? 3_600_000 : 170_000 }, async () => {
    assert.ok(has('cpp') && has('dtc'), 'cpp and dtc (device-tree-compiler) must be installed');
    const tree = linuxTree();
    assert.ok(tree, `cannot extract the corpus from ${LINUX_TARBALL}`);
    const inc = join(tree, 'scripts/dtc/include-prefixes');
    const all = listDts(tree);
    assert.ok(all.length > 2000, `expected 2,000+ .dts files, found ${all.length}`);
    const files = full ? all : sample(all, SAMPLE);
    const tmp = mkdtempSync(join(tmpdir(), 'imgkit-corpus-'));
    const refs = new Map<string, { dtb: Uint8Array; err: string; out: string } | string>();
    try {
      await pool(files.map((f, i) => [f, i] as const), 2, async ([f, i]) => {
        const pp = join(tmp, `${i}.pp`), dtb = join(tmp, `${i}.dtb`);
        try {
          await pexec('cpp', ['-nostdinc', '-I', inc, '-undef', '-D__DTS__', '-x', 'assembler-with-cpp', '-o', pp, join(tree, f)]);
          const r = await pexec('dtc', ['-O', 'dtb', '-b', '0', '-i', dirname(join(tree, f)), '-i', inc, '-o', dtb, pp]);
          refs.set(f, { dtb: new Uint8Array(readFileSync(dtb)), err: r.stderr, out: dtb });
        } catch (e) {
          refs.set(f, `reference tools failed: ${(e as Error).message.split('\n')[0]}`);
        }
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const cache = new Map();
    let same = 0, decompiled = 0, warned = 0;
    const bad: string[] = [];
    for (const f of files) {
      const ref = refs.get(f)!;
      if (typeof ref === 'string') {
        bad.push(`${f}: ${ref}`);
        continue;
      }
      const path = join(tree, f);
      try {
        const text = preprocess(path, { includeDirs: [inc], defines: ['__DTS__'], cache });
        let err = '';
        const opts = { bootCpuid: 0, nameChecks: true, outName: ref.out, onWarning: (m: string) => void (err += `${m}\n`) };
        const ours = encodeFdt(compileDts({ name: path, text }, { ...opts, ...fileAccessFor([dirname(path), inc]) }));
        if (Buffer.compare(ours, ref.dtb) === 0) same++;
        else bad.push(`${f}: DTB differs`);
        if (err === ref.err) warned++;
        else bad.push(`${f}: warnings differ:\n${err.slice(0, 600)}\n--- dtc:\n${ref.err.slice(0, 600)}`);
        // decompile → recompile gives the same blob
        const again = encodeFdt(compileDts({ name: 'decompiled.dts', text: formatDts(decodeFdt(ref.dtb)) }, { bootCpuid: 0 }));
        if (Buffer.compare(again, ref.dtb) === 0) decompiled++;
        else bad.push(`${f}: decompile does not round-trip`);
      } catch (e) {
        bad.push(`${f}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    process.stdout.write(`# corpus: ${same}/${files.length} identical DTBs, ${warned}/${files.length} identical warnings, ${decompiled}/${files.length} decompile round trips (of ${all.length} files)\n`);
    assert.deepEqual(bad, []);
  });
});
