/** Round trips over arbitrary trees, and corruption: every truncation and random flips. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { decodeFdt, encodeFdt, FdtView, compileDts, formatDts, type Fdt, type FdtNode } from '../../src/dtb/index.js';
import { FormatError } from '../../src/bytes/errors.js';

const nameChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789,._+-#@'.split(''));
const propName = fc.string({ unit: nameChars, minLength: 1, maxLength: 12 }).filter((s) => s !== 'name' && s !== 'phandle' && s !== 'linux,phandle');
const nodeName = fc.string({ unit: nameChars, minLength: 1, maxLength: 12 }).filter((s) => !s.startsWith('@'));
const value = fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.array(fc.string({ unit: fc.constantFrom(...'abc xyz,\\"\t'.split('')), minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }).map((ss) => new TextEncoder().encode(ss.map((s) => s + '\0').join(''))));
const uniqueBy = <T>(xs: T[], k: (x: T) => string): T[] => xs.filter((x, i) => xs.findIndex((y) => k(y) === k(x)) === i);
const node: fc.Memo<FdtNode> = fc.memo((depth) =>
  fc.record({
    name: nodeName,
    props: fc.array(fc.record({ name: propName, value }), { maxLength: 5 }).map((ps) => uniqueBy(ps, (p) => p.name)),
    children: depth > 1 ? fc.array(node(depth - 1), { maxLength: 3 }).map((cs) => uniqueBy(cs, (c) => c.name)) : fc.constant([]),
  }),
);
const tree: fc.Arbitrary<Fdt> = fc.record({
  version: fc.constant(17), lastCompVersion: fc.constant(16), bootCpuidPhys: fc.nat({ max: 0xffffffff }),
  // an entry of size 0 is the end of the list for every reader (libfdt, dtc, the kernel), so it cannot round-trip
  reserve: fc.array(fc.record({ address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), size: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }) }), { maxLength: 3 }),
  root: node(4).map((r) => ({ ...r, name: '' })),
});

describe('fdt round trip', () => {
  it('decode(encode(t)) = t and encoding twice gives identical bytes', () => {
    fc.assert(fc.property(tree, (t) => {
      const b = encodeFdt(t);
      const d = decodeFdt(b);
      assert.deepEqual(structuredClone({ ...d, slack: undefined }), structuredClone({ ...t, slack: undefined }));
      assert.deepEqual(encodeFdt(d), b);
    }), { numRuns: 200 });
  });
  it('decompile then compile gives the same blob', () => {
    fc.assert(fc.property(tree, (t) => {
      const b = encodeFdt(t);
      assert.deepEqual(encodeFdt(compileDts({ name: 'x.dts', text: formatDts(t) }, { bootCpuid: t.bootCpuidPhys })), b);
    }), { numRuns: 150 });
  });
});

const sample = new Uint8Array(readFileSync(new URL('../fixtures/dtb/features-sym.dtb', import.meta.url)));
const tryAll = (b: Uint8Array): void => {
  try {
    decodeFdt(b);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
  try {
    const v = new FdtView(b);
    v.pathOffset('/soc/serial@3000');
    v.phandleOffset(1);
    v.node(v.rootOffset());
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
};

describe('fdt corruption', () => {
  it('every truncation gives a FormatError or a value', () => {
    for (let n = 0; n < sample.length; n++) tryAll(sample.subarray(0, n));
  });
  it('random byte changes give a FormatError or a value, never another exception', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat({ max: sample.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
      const b = sample.slice();
      for (const [i, v] of flips) b[i] = v;
      tryAll(b);
    }), { numRuns: 2000 });
  });
  it('deep nesting stops at the depth limit with FormatError LIMIT', () => {
    let n: FdtNode = { name: 'x', props: [], children: [] };
    for (let i = 0; i < 300; i++) n = { name: 'x', props: [], children: [n] };
    const b = encodeFdt({ version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root: { ...n, name: '' } });
    assert.throws(() => decodeFdt(b), (e) => e instanceof FormatError && e.code === 'LIMIT');
    assert.equal(decodeFdt(b, { maxDepth: 400 }).root.children.length, 1);
  });
});
