/**
 * Read-ahead of small host files while packing (src/bytes/prefetch.ts): which names go to the
 * thread pool and when, checked against a recording runner, over an array and over a streamed
 * walk's window; passing over files while batches find them cached; the native prefetchAsync on
 * cached and uncached files and on names that do not exist or are not regular files;
 * and squashfs images and cpio archives are the same bytes with and without it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { PREFETCH, PrefetchWindow, prefetcher, type HostPath } from '../../src/bytes/prefetch.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { ensureBuilt, root, tempDir, which } from '../helpers.js';
import { seeded } from '../squashfs/fixture.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('host file read-ahead', () => {
  it('hands out each small host file at most once, in order, ahead of the writer and within its limits', async () => {
    const item = fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 6, arbitrary: fc.integer({ min: 0, max: PREFETCH.small + 1000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 << 20 }) },
    );
    await fc.assert(fc.asyncProperty(fc.array(item, { maxLength: 3000, size: 'max' }), fc.array(fc.nat(3), { maxLength: 3000, size: 'max' }), fc.boolean(), async (sizes, pauses, windowed) => {
      const items: (HostPath | undefined)[] = sizes.map((size, i) => (size === undefined ? undefined : { path: `/f/${i}`, size }));
      // over a window that forgets passed entries, or over the array
      const w = new PrefetchWindow();
      for (const it of items) w.push(it);
      const batches: { names: number[]; cur: number; resolve: () => void }[] = [];
      let cur = 0, pending = 0, maxPending = 0;
      const p = prefetcher(windowed ? w : items, (paths) => {
        pending++;
        maxPending = Math.max(maxPending, pending);
        return new Promise<void>((resolve) => batches.push({ names: paths.split('\0').map((n) => Number(n.slice(3))), cur, resolve: () => { pending--; resolve(); } }));
      });
      let open = 0; // batches resolved so far
      for (let i = 0; i < items.length; i++) {
        cur = i;
        p.at(i);
        w.drop(i);
        // the pool finishes some batches between files
        for (let k = pauses[i % Math.max(1, pauses.length)] ?? 0; k > 0 && open < batches.length; k--) batches[open++]!.resolve();
        await tick();
      }
      const seen = batches.flatMap((b) => b.names);
      for (let k = 1; k < seen.length; k++) assert.ok(seen[k]! > seen[k - 1]!, 'in order, each once');
      for (const b of batches) {
        assert.ok(b.names.length > 0 && b.names.length <= PREFETCH.batchFiles);
        let bytes = 0;
        for (const n of b.names) {
          const it = items[n]!;
          assert.ok(it.size > 0 && it.size <= PREFETCH.small, 'only small, non-empty host files');
          assert.ok(n >= b.cur && n < b.cur + PREFETCH.aheadFiles, 'ahead of the writer, not too far');
          bytes += it.size;
        }
        assert.ok(bytes < PREFETCH.batchBytes + PREFETCH.small);
      }
      assert.ok(maxPending <= PREFETCH.inFlight);
    }), { numRuns: 60 });
  });

  it('reaches every small file of a tree read slowly enough, and gives up on a runner that throws', async () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ path: `/f/${i}`, size: 1000 + i }));
    const seen: string[] = [];
    const p = prefetcher(items, async (paths) => void seen.push(...paths.split('\0')));
    for (let i = 0; i < items.length; i++) {
      p.at(i);
      await tick();
    }
    assert.deepEqual(seen, items.map((it) => it.path));
    let calls = 0;
    const q = prefetcher(items, () => { calls++; throw new Error('no pool'); });
    for (let i = 0; i < 10; i++) q.at(i);
    assert.equal(calls, 1);
    // the second call throws while the first batch is still in flight: its end asks no more
    let release = () => {};
    calls = 0;
    const r = prefetcher(items, (): Promise<void> => {
      if (++calls === 1) return new Promise((res) => (release = res));
      throw new Error('no pool');
    });
    r.at(0);
    assert.equal(calls, 2);
    release();
    for (let i = 0; i < 300; i++) {
      r.at(i);
      await tick();
    }
    assert.equal(calls, 2);
  });

  it('passes over files while batches find theirs cached, and reads ahead of every file again once one does not', async () => {
    const items = Array.from({ length: 12_000 }, (_, i) => ({ path: `/f/${i}`, size: 1000 }));
    const cold = 8000; // from here on the runner reports files it had to advise
    const seen: number[] = [];
    const p = prefetcher(items, async (paths) => {
      const names = paths.split('\0').map((n) => Number(n.slice(3)));
      seen.push(...names);
      return names.filter((n) => n >= cold).length;
    });
    for (let i = 0; i < items.length; i++) {
      p.at(i);
      await tick();
    }
    const warm = seen.filter((n) => n < cold);
    assert.ok(warm.length > 0 && warm.length < cold / 4, `a fraction of the cached files is asked about (${warm.length})`);
    // gaps grow from one batch to PREFETCH.warmSkip files (for each of the batches in flight)
    const gaps = warm.slice(1).map((n, k) => n - warm[k]! - 1).filter((g) => g > 0);
    assert.ok(gaps.length > 0 && Math.max(...gaps) <= PREFETCH.warmSkip * PREFETCH.inFlight, `gaps up to ${Math.max(...gaps)}`);
    // the first batch that met files not cached ends the passing over: every later file is read ahead
    const first = seen.find((n) => n >= cold)!;
    assert.ok(first - cold <= PREFETCH.warmSkip * PREFETCH.inFlight + PREFETCH.batchFiles, `first at ${first}`);
    const after = seen.filter((n) => n >= first + PREFETCH.batchFiles * PREFETCH.inFlight);
    const end = items.length - 1;
    assert.deepEqual(after, Array.from({ length: end - (first + PREFETCH.batchFiles * PREFETCH.inFlight) + 1 }, (_, k) => first + PREFETCH.batchFiles * PREFETCH.inFlight + k));
  });

  it('over a streamed walk: the window grows as entries are found, forgets passed ones, and every small file is reached', async () => {
    const w = new PrefetchWindow();
    const seen: string[] = [];
    const p = prefetcher(w, async (paths) => void seen.push(...paths.split('\0')));
    // files at the size limit and a long walk: what a forgotten entry would leave in the byte count
    // adds up past the limit long before the end
    const total = 50_000, lead = 40;
    const entry = (i: number) => (i % 7 ? { path: `/f/${i}`, size: PREFETCH.small } : undefined);
    for (let i = 0; i < lead; i++) w.push(entry(i));
    for (let i = 0; i < total; i++) {
      if (i + lead < total) w.push(entry(i + lead));
      w.drop(i); // before at(): the prefetcher must not need an entry the window forgot
      p.at(i);
      assert.equal(w.length, Math.min(total, i + lead + 1));
      assert.equal(w.at(i)?.path, i % 7 ? `/f/${i}` : undefined);
      await tick();
    }
    assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i).filter((i) => i % 7).map((i) => `/f/${i}`));
    assert.equal(w.at(0), undefined, 'passed entries are forgotten');
  });

  it('native prefetchAsync: advises files not cached; passes over cached ones, missing names, directories, FIFOs and an empty list', { skip: !nativeCodecs()?.prefetchAsync && !process.env.CI && 'the native addon is not built here' }, async (t) => {
    const run = nativeCodecs()!.prefetchAsync!;
    const dir = tempDir('imgkit-prefetch-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const a = join(dir, 'a');
    writeFileSync(a, seeded(100_000, 1));
    mkdirSync(join(dir, 'd'));
    symlinkSync('a', join(dir, 'l'));
    const fifo = spawnSync('mkfifo', [join(dir, 'p')]).status === 0;
    assert.equal(await run(''), 0);
    assert.equal(await run([join(dir, 'missing'), join(dir, 'd'), ...(fifo ? [join(dir, 'p')] : []), ''].join('\0')), 0, 'nothing to advise');
    // out of the page cache (GNU dd's nocache, where the file system lets it go, as util-linux's
    // fincore then shows), a file is advised
    const dropped = spawnSync('sh', ['-c', 'sync "$1" && dd if="$1" iflag=nocache count=0 status=none && [ "$(fincore --raw --noheadings --output PAGES "$1")" = 0 ]', 'sh', a]).status === 0;
    if (dropped) assert.equal(await run(a), 1);
    // read, it is cached: no advice, through the symlink too
    assert.deepEqual(readFileSync(a), Buffer.from(seeded(100_000, 1)));
    assert.equal(await run([a, join(dir, 'l'), join(dir, 'missing'), a].join('\0')), 0);
    assert.throws(() => (run as (x?: unknown) => unknown)(), TypeError);
  });

  it('the CLI writes the same image with and without read-ahead, equal to mksquashfs\'s', { skip: !which('mksquashfs') && 'mksquashfs not installed' }, (t) => {
    ensureBuilt();
    const dir = tempDir('imgkit-prefetch-cli-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const src = join(dir, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    for (let i = 0; i < 300; i++) writeFileSync(join(src, i % 3 ? 'sub' : '', `f${i}`), seeded(i * 97 % 5000 + (i % 50 === 0 ? 300_000 : 0), i));
    const out = (name: string, env: NodeJS.ProcessEnv, cmd = join(root, 'bin/squashfs'), pre: string[] = ['pack']) => {
      const r = spawnSync(cmd, [...pre, src, join(dir, name), '-noappend', '-quiet', '-no-progress', '-mkfs-time', '1', '-all-time', '1', '-comp', 'zstd'], { env: { ...process.env, ...env }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(join(dir, name));
    };
    const a = out('on.sqfs', {}), b = out('off.sqfs', { IMGKIT_PREFETCH: '0' }), c = out('ref.sqfs', {}, 'mksquashfs', []);
    assert.ok(a.equals(b));
    assert.ok(a.equals(c));
  });

  it('writeCpio walking deeper for the read-ahead: the same archive as encodeCpio, from arrays, async walks and streamed payloads', async () => {
    const { encodeCpio, writeCpio } = await import('../../src/cpio/write.js');
    const body = (i: number) => seeded(i % 5 === 0 ? 300_000 : (i * 37) % 4000, i);
    const items = Array.from({ length: 1300 }, (_, i) => ({ name: `d/f${i}`, mode: 0o100644, mtime: i, data: body(i) }));
    const want = encodeCpio([{ name: 'd', mode: 0o40755 }, ...items]);
    const collect = async (it: AsyncIterable<Uint8Array>) => {
      const parts: Uint8Array[] = [];
      for await (const c of it) parts.push(c.slice()); // a batch is reused once written
      return Buffer.concat(parts);
    };
    const streamed = items.map((e) => ({ ...e, data: { size: e.data.length, async *chunks() { yield e.data.subarray(0, 7); yield e.data.subarray(7); } } }));
    async function* walk<T>(xs: T[]): AsyncGenerator<T> {
      for (const x of xs) yield x;
    }
    for (const input of [[{ name: 'd', mode: 0o40755 }, ...items], walk([{ name: 'd', mode: 0o40755 }, ...items]), walk([{ name: 'd', mode: 0o40755 }, ...streamed])])
      assert.ok((await collect(writeCpio(input))).equals(want));
  });

  it('initramfs pack writes the same archive with and without read-ahead', { skip: !nativeCodecs()?.prefetchAsync && !process.env.CI && 'the native addon is not built here' }, (t) => {
    ensureBuilt('dist/cli/initramfs.js');
    const dir = tempDir('imgkit-prefetch-cpio-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const src = join(dir, 'src');
    for (let d = 0; d < 4; d++) mkdirSync(join(src, `d${d}`), { recursive: true });
    // more entries than the walk runs ahead of the writer (PREFETCH_DEPTH), a few large files
    for (let i = 0; i < 1200; i++) writeFileSync(join(src, `d${i % 4}`, `f${i}`), seeded((i * 131) % 3000 + (i % 400 === 0 ? 2_000_000 : 0), i));
    const pack = (name: string, env: NodeJS.ProcessEnv) => {
      const r = spawnSync(join(root, 'bin/initramfs'), ['pack', '-o', join(dir, name), '--dir', src], { env: { ...process.env, ...env }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(join(dir, name));
    };
    const on = pack('on.cpio', {}), off = pack('off.cpio', { IMGKIT_PREFETCH: '0' });
    assert.ok(on.length > 4_000_000);
    assert.ok(on.equals(off));
    if (which('cpio')) {
      const r = spawnSync('cpio', ['-it', '--quiet'], { input: on, encoding: 'utf8', maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.split('\n').filter((l) => /\/f\d+$/.test(l)).length, 1200);
    }
  });
});
