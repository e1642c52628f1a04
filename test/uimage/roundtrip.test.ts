/** Round trips and streaming: decode ∘ encode = id, every writer path gives the same bytes, any chunking. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { memorySink, type ByteSink } from '../../src/bytes/sink.js';
import type { StreamPayload } from '../../src/bytes/payload.js';
import { decodeLegacyImage, encodeLegacyImage, encodeName, openLegacyBytes, writeLegacyImage } from '../../src/uimage/index.js';
import { spec } from './arb.js';

const FC = { seed: 0x0b00_7001, numRuns: 200 } as const;

/** A payload that yields its bytes cut at the given points. */
function chunked(bytes: Uint8Array, cuts: number[]): StreamPayload {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return {
    size: bytes.length,
    async *chunks() {
      let at = 0;
      for (const p of [...points, bytes.length]) {
        if (p > at) yield bytes.slice(at, p);
        at = Math.max(at, p);
      }
    },
  };
}

/** A sink without writeAt: the writer must fall back to two passes. */
function appendOnly(): ByteSink & { bytes(): Uint8Array } {
  const m = memorySink();
  return { get position() { return m.position; }, writev: (c) => m.writev(c), close: () => m.close(), bytes: () => m.bytes() };
}

describe('uimage round trip', () => {
  it('decode(encode(spec)) gives back every field and part', () => {
    fc.assert(fc.property(spec, (s) => {
      const bytes = encodeLegacyImage(s);
      const img = decodeLegacyImage(bytes);
      const h = img.header;
      assert.deepEqual([h.os, h.arch, h.type, h.comp, h.load, h.ep, h.time], [s.os, s.arch, s.type, s.comp, s.load, s.ep, s.time]);
      assert.deepEqual(h.name, encodeName(s.name));
      assert.equal(img.trailing, 0);
      if (s.type === 4 || s.type === 6) {
        assert.equal(img.parts.length, s.parts.length);
        img.parts.forEach((p, i) => assert.deepEqual(bytes.subarray(p.offset, p.offset + p.size), s.parts[i]));
      } else assert.deepEqual(img.data, s.parts[0]);
      assert.deepEqual(encodeLegacyImage(s), bytes); // deterministic
    }), FC);
  });

  it('writeLegacyImage gives the same bytes with or without writeAt, for any chunking of the parts', async () => {
    await fc.assert(fc.asyncProperty(spec, fc.array(fc.nat(), { maxLength: 8 }), async (s, cuts) => {
      const want = encodeLegacyImage(s);
      const streamed = { ...s, parts: s.parts.map((p) => chunked(p as Uint8Array, cuts)) };
      const a = memorySink();
      await writeLegacyImage(a, streamed);
      assert.deepEqual(a.bytes(), want);
      const b = appendOnly();
      await writeLegacyImage(b, streamed);
      assert.deepEqual(b.bytes(), want);
    }), { ...FC, numRuns: 60 });
  });

  it('openLegacyImage streams the same parts as decodeLegacyImage', async () => {
    await fc.assert(fc.asyncProperty(spec, async (s) => {
      const bytes = encodeLegacyImage(s);
      const img = await openLegacyBytes(bytes);
      for (let i = 0; i < img.parts.length; i++) {
        const parts: Uint8Array[] = [];
        for await (const c of img.part(i).chunks()) parts.push(c);
        const got = Buffer.concat(parts);
        const p = img.parts[i]!;
        assert.deepEqual(new Uint8Array(got), bytes.subarray(p.offset, p.offset + p.size));
      }
    }), { ...FC, numRuns: 60 });
  });

  it('names: cut at 32 bytes as mkimage (no NUL when 32 long), NUL-padded below', () => {
    assert.deepEqual(encodeName('y'.repeat(40)), new TextEncoder().encode('y'.repeat(32)));
    assert.deepEqual(encodeName('ab').subarray(0, 3), Uint8Array.of(0x61, 0x62, 0));
    assert.equal(encodeName('x' + 'ä'.repeat(16)).at(-1), 0xc3); // the cut splits the 17th character, as mkimage's memcpy does
  });

  it('a stream that yields fewer bytes than announced is an error, not a bad image', async () => {
    const s = { os: 5, arch: 2, type: 2, comp: 0, load: 0, ep: 0, time: 0, name: '', parts: [{ size: 10, async *chunks() { yield new Uint8Array(4); } }] };
    await assert.rejects(writeLegacyImage(memorySink(), s), /announced/);
  });

  it('caller mistakes are RangeErrors', () => {
    const base = { os: 5, arch: 2, type: 2, comp: 0, load: 0, ep: 0, time: 0, name: '', parts: [new Uint8Array(1)] };
    assert.throws(() => encodeLegacyImage({ ...base, load: 2 ** 32 }), RangeError);
    assert.throws(() => encodeLegacyImage({ ...base, os: 256 }), RangeError);
    assert.throws(() => encodeLegacyImage({ ...base, parts: [] }), RangeError);
    assert.throws(() => encodeLegacyImage({ ...base, type: 4, parts: [new Uint8Array(1), new Uint8Array(0)] }), RangeError);
  });
});
