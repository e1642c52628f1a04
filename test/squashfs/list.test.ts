/**
 * `squashfs ls [-l]` reads the tables in memory without objects (src/squashfs/list.ts); the generic
 * walker (text.ts longListingChunks, itself checked against unsquashfs) is its oracle: the same
 * text and the same error, at the same point, on good images, on every bad/ fixture, and on images
 * with random bytes flipped in their tables.
 */
import { describe, it, before } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { bytesAccess } from '../../src/bytes/random.js';
import { memorySink } from '../../src/bytes/sink.js';
import { listingBytes } from '../../src/squashfs/list.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { longListingChunks } from '../../src/squashfs/text.js';
import { writeSquashfs, type WriteOptions } from '../../src/squashfs/write.js';
import { badImages, listingTree } from './bad.js';
import { decodeName, encodeName } from '../../src/bytes/names.js';
import { requireTools, skipWithout, tempDir } from '../helpers.js';

const collectAll = async (it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> => {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return out;
};


interface Outcome {
  out: string;
  err?: string;
}

async function collect(chunks: () => AsyncIterable<string | Uint8Array>): Promise<Outcome> {
  let out = '';
  try {
    // compared as bytes: names that are not UTF-8 are raw bytes in one, lone surrogates in the other
    for await (const c of chunks()) out += Buffer.from(typeof c === 'string' ? encodeName(c) : c).toString('latin1');
    return { out };
  } catch (e) {
    const x = e as { code?: string; offset?: number; message?: string };
    if (typeof x?.message !== 'string' || x.code === undefined) throw e;
    return { out, err: `${x.code} ${x.offset ?? ''} ${x.message}` };
  }
}

async function generic(img: Uint8Array, path: string, long: boolean): Promise<Outcome> {
  return collect(async function* () {
    const fs = await openSquashfs(bytesAccess(img, 'squashfs'));
    for await (const lines of longListingChunks(fs, path, 'squashfs-root', long)) if (lines.length) yield lines.join('\n') + '\n';
  });
}

async function fast(img: Uint8Array, path: string, long: boolean): Promise<Outcome> {
  return collect(async function* () {
    yield* listingBytes(await openSquashfs(bytesAccess(img, 'squashfs')), path, 'squashfs-root', long);
  });
}

/** Both listings of `img` (long and short, whole and from `sub`) agree; an open that fails is skipped. */
async function agree(img: Uint8Array, what: string, sub = 'd'): Promise<void> {
  try {
    await openSquashfs(bytesAccess(img, 'squashfs'));
  } catch {
    return;
  }
  for (const path of ['/', sub])
    for (const long of [true, false]) assert.deepEqual(await fast(img, path, long), await generic(img, path, long), `${what} ${path} ${long ? '-l' : ''}`);
}

async function image(o: WriteOptions): Promise<Uint8Array> {
  const sink = memorySink();
  await writeSquashfs(sink, listingTree(), { blockSize: 4096, pad: false, ...o });
  return sink.bytes();
}

describe('squashfs ls without objects', () => {
  for (const [label, o] of [['gzip', {}], ['uncompressed', { noInodeCompression: true, noDataCompression: true, noFragmentCompression: true }], ['lz4', { compressor: 'lz4' }]] as const) {
    it(`lists a ${label} image as the generic walker does, whole and from a folder`, async () => {
      const img = await image(o as WriteOptions);
      const whole = await fast(img, '/', true);
      assert.equal(whole.err, undefined);
      assert.match(whole.out, /^crwsr-xr-x 0\/0 +300,70000 1970-01-01 00:00 squashfs-root\/dev$/m);
      assert.match(whole.out, /squashfs-root\/d\/long-target -> (x\/){300}\n/);
      await agree(img, label);
      await agree(img, label, 'd/empty');
      assert.deepEqual(await fast(img, 'nowhere', true), await generic(img, 'nowhere', true));
    });
  }

  it('agrees on every bad/ fixture and every image bad.ts makes', async () => {
    const dir = new URL('../fixtures/squashfs/bad/', import.meta.url);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.bin'))) await agree(new Uint8Array(readFileSync(new URL(f, dir))), f);
    for (const [name, [, bytes]] of await badImages()) await agree(bytes, name);
  });

  it('agrees on the golden images (mksquashfs, gensquashfs, xz, lzo)', async () => {
    for (const g of ['golden', 'golden-ng', 'golden-xz', 'golden-lzo']) {
      const img = new Uint8Array(readFileSync(new URL(`../fixtures/squashfs/${g}.sqfs`, import.meta.url)));
      const r = await fast(img, '/', true);
      assert.equal(r.err, undefined, g);
      assert.equal(r.out, readFileSync(new URL(`../fixtures/squashfs/${g}.ls`, import.meta.url), 'utf8'), g);
      await agree(img, g);
    }
  });

  it('agrees on names a listing must not hold: NUL, "/", "." and "..", out of order, duplicated', async () => {
    const img = await image({ noInodeCompression: true, noDataCompression: true, noFragmentCompression: true });
    const at = Buffer.from(img).indexOf('n001');
    const first = Buffer.from(img).indexOf('n000'); // after "long-target": still in order with a NUL or "/" inside
    assert.ok(at > 0 && first > 0);
    const faults: [string, (b: Uint8Array) => void][] = [
      ['NUL', (b) => void (b[first + 1] = 0)],
      ['slash', (b) => void (b[first + 2] = 0x2f)],
      ['duplicate', (b) => void (b[at + 3] = 0x30)],
      ['order', (b) => void (b[at + 1] = 0x39)],
      ['high bytes', (b) => void (b[at + 2] = 0xff)],
      ['dot', (b) => void b.set([0x2e, 0x2e], at - 1)],
    ];
    for (const [what, hurt] of faults) {
      const b = img.slice();
      hurt(b);
      await agree(b, what);
    }
  });

  for (const [label, o] of [['gzip', {}], ['uncompressed', { noInodeCompression: true, noDataCompression: true, noFragmentCompression: true }]] as const) {
    it(`agrees when bytes of the inode and directory tables of a ${label} image are flipped`, async () => {
      const img = await image(o as WriteOptions);
      const sb = new DataView(img.buffer, img.byteOffset);
      // the inode table, then the directory table, up to the fragment or id table
      const from = Number(sb.getBigUint64(0x40, true));
      const end = Math.min(Number(sb.getBigUint64(0x50, true)), Number(sb.getBigUint64(0x30, true)));
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: from, max: end - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), async (flips) => {
          const b = img.slice();
          for (const [at, x] of flips) b[at] = b[at]! ^ x;
          await agree(b, JSON.stringify(flips));
        }),
        { numRuns: label === 'gzip' ? 150 : 400 },
      );
    });
  }
});

describe('squashfs ls of names that are not UTF-8', { skip: skipWithout('mksquashfs', 'unsquashfs') }, () => {
  before(() => requireTools('mksquashfs', 'unsquashfs'));

  it('prints names and symlink targets as stored, as unsquashfs -lln does, from the fast and the generic listing', async () => {
    const dir = tempDir('imgkit-names-');
    try {
      const src = Buffer.from(join(dir, 'src'));
      const at = (...parts: (string | number[])[]) => Buffer.concat([src, ...parts.map((p) => Buffer.from(typeof p === 'string' ? p : p))]);
      mkdirSync(at());
      writeFileSync(at('/caf', [0xe9]), 'first');
      writeFileSync(at('/caf', [0xe8]), 'second');
      mkdirSync(at('/d', [0xff, 0x80]));
      symlinkSync(Buffer.from([0x74, 0xe9]), at('/d', [0xff, 0x80], '/link'));
      const img = join(dir, 'img.sqfs');
      execFileSync('mksquashfs', [join(dir, 'src'), img, '-noappend', '-quiet', '-no-progress', '-all-root', '-mkfs-time', '0', '-all-time', '0']);
      const theirs = execFileSync('unsquashfs', ['-lln', '-UTC', img]);
      const fs = await openSquashfs(bytesAccess(new Uint8Array(readFileSync(img))));
      const fast = Buffer.concat(await collectAll(listingBytes(fs)));
      assert.deepEqual([...fast], [...theirs]);
      let generic = '';
      for await (const lines of longListingChunks(fs)) for (const l of lines) generic += `${l}\n`;
      assert.deepEqual([...encodeName(generic)], [...theirs]);
      assert.equal(await fs.readlink(`/${decodeName(Buffer.from([0x64, 0xff, 0x80]))}/link`), decodeName(Buffer.from([0x74, 0xe9])));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
