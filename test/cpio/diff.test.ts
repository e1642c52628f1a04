/**
 * Differential tests against GNU cpio (the byte-identity oracle of nixpkgs' makeInitrd) and bsdtar.
 * Tool versions are printed with the results. GNU cpio 2.13 keeps the real directory nlink under
 * --reproducible; 2.14+ stores 2 (--ignore-dirnlink): the tests pass the matching --dir-nlink.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { collect } from '../../src/bytes/source.js';
import { decodeCpio, encodeCpio, longLine, walkTree, writeCpio, S_IFCHR, S_IFDIR, type TreeOptions } from '../../src/cpio/index.js';
import { skipWithout, requireTools } from '../helpers.js';

const cpioVersion = (): string => spawnSync('cpio', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '';
/** GNU cpio before 2.14 has no --ignore-dirnlink: its --reproducible stores the real count. */
const dirNlink = (): 2 | 'stat' => (/ 2\.(\d+)/.exec(cpioVersion()) && Number(/ 2\.(\d+)/.exec(cpioVersion())![1]) < 14 ? 'stat' : 2);

function gnu(root: string, extra: string[] = ['-R', '0:0'], format = 'newc'): Uint8Array {
  return new Uint8Array(execFileSync('sh', ['-c', `find . -print0 | LC_ALL=C sort -z | cpio --quiet --null -o -H ${format} --reproducible ${extra.join(' ')}`], { cwd: root, maxBuffer: 1 << 28 }));
}

async function ours(root: string, opts: TreeOptions = {}, format: 'newc' | 'crc' = 'newc'): Promise<Uint8Array> {
  return collect(writeCpio(await walkTree(root, { dirNlink: dirNlink(), ...opts }), { format }));
}

function firstDiff(a: Uint8Array, b: Uint8Array): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `first difference at 0x${i.toString(16)} (ours ${a.length} bytes, GNU ${b.length})`;
  return `lengths differ: ours ${a.length}, GNU ${b.length}`;
}

/** A tree with every kind GNU cpio archives, sizes around every padding boundary, and hard-link groups. */
function makeTree(root: string, outside: string): void {
  mkdirSync(join(root, 'bin/sub/deeper'), { recursive: true });
  mkdirSync(join(root, 'a-b'), { recursive: true }); // "a-b" sorts before "a/…" in byte order
  mkdirSync(join(root, 'a'), { recursive: true });
  mkdirSync(join(root, 'empty'), { mode: 0o700 });
  for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 109, 110, 111, 112, 511, 512, 513, 4095, 4096, 4097, 65537, 300_000])
    writeFileSync(join(root, `bin/f${n}`), Buffer.alloc(n, n % 251));
  writeFileSync(join(root, 'a/x'), 'x');
  writeFileSync(join(root, 'a-b/y'), 'yy');
  writeFileSync(join(root, 'exec'), '#!/bin/sh\n', { mode: 0o4755 });
  symlinkSync('bin/f1', join(root, 'link'));
  symlinkSync('../../'.repeat(40) + 'target', join(root, 'bin/long-link'));
  symlinkSync('dangling', join(root, 'bin/sub/dangle'));
  // a complete 3-link group in scattered places, and one with a link outside the tree
  writeFileSync(join(root, 'bin/hard1'), 'shared data\n');
  linkSync(join(root, 'bin/hard1'), join(root, 'a/hard2'));
  linkSync(join(root, 'bin/hard1'), join(root, 'zz-hard3'));
  writeFileSync(join(root, 'bin/sub/partial'), 'partial group\n');
  linkSync(join(root, 'bin/sub/partial'), join(root, 'bin/sub/deeper/partial2'));
  linkSync(join(root, 'bin/sub/partial'), outside);
  execFileSync('mkfifo', [join(root, 'fifo'), join(root, 'bin/sub/fifo2')]);
  writeFileSync(join(root, 'sp ace \u00e9'), 'utf-8 name');
  for (const p of ['', 'bin', 'bin/f5', 'link', 'fifo', 'a', 'empty']) utimesSync(join(root, p), 1_000_000_000, 1_000_000_000);
  execFileSync('touch', ['-h', '-d', '@1', join(root, 'link')]);
}

describe('GNU cpio differential', { skip: skipWithout('cpio') }, () => {
  let tmp = '';
  let root = '';
  before(() => {
    requireTools('cpio');
    process.stdout.write(`# ${cpioVersion()} (directory nlink: ${dirNlink()})\n`);
    tmp = mkdtempSync(join(tmpdir(), 'imgkit-cpio-diff-'));
    root = join(tmp, 'root');
    mkdirSync(root);
    makeTree(root, join(tmp, 'outside-link'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('walkTree + writeCpio is byte-identical to find . | sort | cpio -o -H newc --reproducible -R 0:0', async () => {
    const a = await ours(root);
    const b = gnu(root);
    assert.ok(Buffer.compare(a, b) === 0, firstDiff(a, b));
  });

  it('crc (070702) is byte-identical to cpio -H crc', async () => {
    const a = await ours(root, {}, 'crc');
    const b = gnu(root, ['-R', '0:0'], 'crc');
    assert.ok(Buffer.compare(a, b) === 0, firstDiff(a, b));
  });

  it('--keep-owner is byte-identical to cpio without -R', async () => {
    if (process.getuid?.() !== 0) return;
    const t = mkdtempSync(join(tmpdir(), 'imgkit-owner-'));
    try {
      writeFileSync(join(t, 'f'), 'owned');
      chownSync(join(t, 'f'), 1234, 5678);
      const a = await ours(t, { keepOwner: true });
      assert.ok(Buffer.compare(a, gnu(t, [])) === 0, firstDiff(a, gnu(t, [])));
      assert.equal(decodeCpio(a).records.find((r) => r.entry.name === 'f')!.entry.uid, 1234);
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('random trees: byte-identical to GNU cpio', async () => {
    const node = fc.letrec((tie) => ({
      tree: fc.array(fc.tuple(fc.stringMatching(/^[a-c.-]{1,3}$/).filter((s) => s !== '.' && s !== '..'), tie('kind')), { maxLength: 5 }),
      kind: fc.oneof({ depthSize: 'small' }, fc.nat({ max: 700 }).map((n) => ({ file: n })), fc.constant({ link: true }), fc.constant({ hard: true }), tie('tree')),
    }));
    let run = 0;
    await fc.assert(fc.asyncProperty(node.tree, async (tree) => {
      const dir = join(tmp, `rand${run++}`);
      mkdirSync(dir);
      let lastFile: string | undefined;
      const build = (at: string, t: unknown): void => {
        const seen = new Set<string>();
        for (const [name, kind] of t as [string, unknown][]) {
          if (seen.has(name)) continue;
          seen.add(name);
          const p = join(at, name);
          if (Array.isArray(kind)) {
            mkdirSync(p);
            build(p, kind);
          } else if ('file' in (kind as object)) {
            writeFileSync(p, Buffer.alloc((kind as { file: number }).file, 0x61));
            lastFile = p;
          } else if ('link' in (kind as object)) symlinkSync(name + '-target', p);
          else if (lastFile) linkSync(lastFile, p);
        }
      };
      build(dir, tree);
      const a = await ours(dir);
      const b = gnu(dir);
      rmSync(dir, { recursive: true, force: true });
      assert.ok(Buffer.compare(a, b) === 0, firstDiff(a, b));
    }), { numRuns: 25 });
  });

  it('GNU cpio -t lists our archive; our listing matches cpio -tv', async () => {
    const a = await ours(root);
    const t = spawnSync('cpio', ['-tv', '--quiet'], { input: a, encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    assert.equal(t.status, 0, t.stderr);
    const now = Math.floor(Date.now() / 1000);
    const mine = decodeCpio(a).records.map((r) => longLine(r, { now })).join('\n') + '\n';
    // cpio quotes names with non-ASCII bytes in the C locale; compare the rest
    const strip = (s: string): string[] => s.split('\n').filter((l) => !/sp ace/.test(l));
    assert.deepEqual(strip(mine), strip(t.stdout));
  });

  it('GNU cpio -i extracts our crc archive (it verifies the sums) to the same tree', async () => {
    const a = await ours(root, {}, 'crc');
    const out = join(tmp, 'gnu-extract');
    mkdirSync(out);
    const r = spawnSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { cwd: out, input: a });
    assert.equal(r.status, 0, r.stderr?.toString());
    assert.deepEqual(readFileSync(join(out, 'bin/f300000')), readFileSync(join(root, 'bin/f300000')));
    assert.deepEqual(readFileSync(join(out, 'zz-hard3'), 'utf8'), 'shared data\n');
  });

  it('we read what GNU cpio writes, device nodes from gen_init_cpio-style items included', async () => {
    const b = gnu(root, ['-R', '0:0'], 'crc');
    const { records } = decodeCpio(b);
    assert.equal(records[0]!.entry.name, '.');
    assert.ok(records.some((r) => r.entry.name === 'bin/f4097' && r.data.length === 4097));
    const dev = encodeCpio([{ name: 'dev', mode: S_IFDIR | 0o755 }, { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 }]);
    const t = spawnSync('cpio', ['-tv', '--quiet'], { input: dev, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    assert.match(t.stdout, /^crw------- +1 root +root +5, +1 .* dev\/console$/m);
  });
});

describe('bsdtar reads our archives', { skip: skipWithout('bsdtar') }, () => {
  it('lists every entry of a generated archive', () => {
    const bytes = encodeCpio([
      { name: 'd', mode: S_IFDIR | 0o755 },
      { name: 'd/file', mode: 0o100644, data: new TextEncoder().encode('hello') },
      { name: 'd/link', mode: 0o120777, data: new TextEncoder().encode('file') },
    ]);
    const r = spawnSync('bsdtar', ['-tf', '-'], { input: bytes, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['d', 'd/file', 'd/link']);
  });
});
