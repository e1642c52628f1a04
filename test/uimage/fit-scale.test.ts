/**
 * FIT work bounded by the size of the input: a node with 125,000 hash subnodes is listed, verified
 * and turned into JSON without exhausting the stack and in linear time; images whose hashes cover
 * the same data have it hashed once per algorithm; overlapping data ranges that would need more
 * hashing than a few passes over the file per algorithm are a LIMIT FormatError, found before any
 * hashing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FormatError } from '../../src/bytes/errors.js';
import { bytesAccess, type RandomAccess } from '../../src/bytes/random.js';
import { crc32 } from '../../src/bytes/crc32.js';
import { encodeFdt, fdtNode, propValue, type FdtNode } from '../../src/dtb/index.js';
import { fitJson, formatFitListing, hashBytes, openFit, verifyFit } from '../../src/uimage/index.js';
import { pattern } from './fit-data.js';

const s = (name: string, v: string) => ({ name, value: propValue.strings(v) });
const c = (name: string, ...v: number[]) => ({ name, value: propValue.cells(...v) });
const blob = (root: FdtNode) => encodeFdt({ version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root });
const fitRoot = (images: FdtNode[]) => fdtNode('', [s('description', 'd'), c('timestamp', 1)], [fdtNode('images', [], images)]);

/** Random access that counts the bytes read through it. */
function counting(bytes: Uint8Array): RandomAccess & { read: number } {
  const ra = bytesAccess(bytes, 'fit');
  const out = { size: ra.size, read: 0, readAt: (o: number, n: number) => ((out.read += n), ra.readAt(o, n)) };
  return out;
}

describe('FIT work bounded by the input', () => {
  // 125,000 hash nodes: a push(...spread) of them overflows the stack, and
  // looking each subnode up by a scan is quadratic (40,000 took 7.5 s)
  it('125,000 hash subnodes: list, verify and JSON without stack overflow, in linear time', { timeout: 60_000 }, async () => {
    const N = 125_000;
    const value = { name: 'value', value: propValue.cells(crc32(new Uint8Array(1))) };
    const hashes: FdtNode[] = [];
    for (let i = 0; i < N; i++) hashes.push(fdtNode(`hash-${i.toString(16)}`, [s('algo', 'crc32'), value]));
    const bytes = blob(fitRoot([fdtNode('k', [{ name: 'data', value: new Uint8Array(1) }, s('type', 'kernel'), s('compression', 'none')], hashes)]));
    const fit = await openFit(bytesAccess(bytes, 'fit'));
    const v = await verifyFit(fit);
    assert.equal(v.ok, true);
    assert.equal(v.hashes.length, N);
    const lines = formatFitListing(fit).split('\n');
    assert.equal(lines.filter((l) => l === '  Hash algo:    crc32').length, N);
    assert.equal(lines.filter((l) => l === '  Hash value:   d202ef8d').length, N);
    const j = fitJson(fit, v) as { images: { hashes: { node: string; ok: boolean | null }[] }[] };
    assert.equal(j.images[0]!.hashes.length, N);
    assert.ok(j.images[0]!.hashes.every((h) => h.ok === true));
    assert.equal(j.images[0]!.hashes[N - 1]!.node, `hash-${(N - 1).toString(16)}`);
  });

  // 4,000 images x 6 hash nodes over one 1.5 MiB range: hashed per image, more than 120 s
  it('images over the same data range: each algorithm hashes it once, and every hash node is checked', { timeout: 60_000 }, async () => {
    const N = 4000, SIZE = 0x18_0000;
    const algos = ['crc32', 'md5', 'sha1', 'sha256', 'sha384', 'sha512'];
    const data = pattern(SIZE, 3);
    const digest = new Map(algos.map((a) => [a, hashBytes(a, data)!]));
    const make = (at: number) => {
      const images: FdtNode[] = [];
      for (let i = 0; i < N; i++)
        images.push(fdtNode(`i${i}`, [c('data-position', at), c('data-size', SIZE), s('type', 'kernel'), s('compression', 'none')],
          algos.map((a, j) => fdtNode(`hash-${j}`, [s('algo', a), { name: 'value', value: digest.get(a)! }]))));
      return blob(fitRoot(images));
    };
    const at = Math.ceil(make(0).length / 4) * 4; // the blob's size does not depend on the position value
    const head = make(at);
    const file = new Uint8Array(at + SIZE);
    file.set(head);
    file.set(data, at);
    const ra = counting(file);
    const fit = await openFit(ra);
    const v = await verifyFit(fit);
    assert.equal(v.ok, true);
    assert.equal(v.hashes.length, N * algos.length);
    assert.ok(v.hashes.every((h) => h.ok));
    assert.ok(ra.read <= file.length + 64, `${ra.read} bytes read for a ${file.length}-byte file`); // the FDT header is read twice
    assert.deepEqual(v.hashes[5]!.actual, new Uint8Array(createHash('sha512').update(data).digest()));
  });

  it('LIMIT: overlapping data ranges that need more hashing than the bound, refused before any is done', async () => {
    const SIZE = 1 << 20, N = 64;
    const make = (at: number) => {
      const images: FdtNode[] = [];
      for (let i = 0; i < N; i++)
        images.push(fdtNode(`i${i}`, [c('data-position', at + i), c('data-size', SIZE - N), s('type', 'kernel')], [fdtNode('hash-1', [s('algo', 'sha256')])]));
      return blob(fitRoot(images));
    };
    const at = Math.ceil(make(0).length / 4) * 4;
    const file = new Uint8Array(at + SIZE);
    file.set(make(at));
    const ra = counting(file);
    const fit = await openFit(ra);
    const opened = ra.read;
    await assert.rejects(verifyFit(fit), (e: unknown) => e instanceof FormatError && e.code === 'LIMIT' && /Cannot verify FIT: .*over the limit/.test(e.message));
    assert.equal(ra.read, opened, 'nothing hashed');
  });
});
