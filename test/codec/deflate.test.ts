import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { deflateBackend, pakoBackend, type DeflateBackend, type Wrapper } from '../../src/codec/deflate.js';
import { root } from '../helpers.js';
import { chunked, cuts, equalBytes, gather, payload, sample } from './arb.js';

const wrappers: readonly Wrapper[] = ['gzip', 'zlib'];
const MAX = 1 << 30;

/** The code of the FormatError `p` rejects with, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof FormatError, String(e));
    return e.code;
  }
}

describe('DEFLATE backends: node:zlib and the pako fallback agree', () => {
  let node: DeflateBackend;
  let pako: DeflateBackend;
  it('node:zlib is the default backend', async () => {
    node = await deflateBackend();
    pako = await pakoBackend();
    assert.equal(node.name, 'node:zlib');
    assert.equal(pako.name, 'pako');
  });

  for (const w of wrappers) {
    it(`${w}: each decodes what the other encodes`, async () => {
      await fc.assert(
        fc.asyncProperty(payload, fc.integer({ min: 0, max: 9 }), async (data, level) => {
          equalBytes(await pako.inflate(w, await node.deflate(w, data, level), MAX), data, 'node → pako');
          equalBytes(await node.inflate(w, await pako.deflate(w, data, level), MAX), data, 'pako → node');
          equalBytes(await gather(pako.inflateStream(w, chunked(await node.deflate(w, data, level), [7]), MAX)), data, 'pako stream');
          equalBytes(await node.inflate(w, await gather(pako.deflateStream(w, chunked(data, [5, 100]), level)), MAX), data, 'pako deflateStream');
        }),
        { numRuns: 40 },
      );
    });

    it(`${w}: corrupt input gives the same error code from both`, async () => {
      const good = await node.deflate(w, sample(2000, 1), 6);
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: good.length }), fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), async (cut, at, xor) => {
          const bad = good.slice(0, cut);
          if (at < bad.length) bad[at]! ^= xor;
          assert.equal(await outcome(pako.inflate(w, bad, MAX)), await outcome(node.inflate(w, bad, MAX)));
        }),
        { numRuns: 150 },
      );
    });

    it(`${w}: trailing zeros pass and trailing data fails, in both and under any chunking`, async () => {
      const data = sample(3000, 2);
      const packed = await node.deflate(w, data, 6);
      const junk = Uint8Array.of(...packed, 0, 0, 0, 9, 0);
      const zeros = Uint8Array.of(...packed, 0, 0, 0, 0);
      for (const b of [node, pako]) {
        equalBytes(await b.inflate(w, zeros, MAX), data);
        assert.equal(await outcome(b.inflate(w, junk, MAX)), 'BAD_FIELD');
        await fc.assert(
          fc.asyncProperty(cuts(junk.length), async (at) => {
            equalBytes(await gather(b.inflateStream(w, chunked(zeros, at), MAX)), data);
            assert.equal(await outcome(gather(b.inflateStream(w, chunked(junk, at), MAX))), 'BAD_FIELD');
          }),
          { numRuns: 20 },
        );
      }
    });
  }

  it('gzip: bytes after the members that are not a member fail at the first of them, in both backends', async () => {
    const one = await node.deflate('gzip', sample(3000, 3), 6);
    const two = await node.deflate('gzip', sample(500, 4), 9);
    for (const [input, end] of [[Uint8Array.of(...one, ...new TextEncoder().encode('070701')), one.length], [Uint8Array.of(...one, ...two, 0x37), one.length + two.length]] as const) {
      for (const b of [node, pako]) {
        for (const run of [() => b.inflate('gzip', input, MAX), async () => b.inflateSync('gzip', input, MAX)]) {
          const e = await run().then(() => undefined, (x: unknown) => x);
          assert.ok(e instanceof FormatError && e.code === 'BAD_FIELD' && e.offset === end && /follow the end/.test(e.message), `${b.name}: ${String(e)}`);
        }
      }
    }
  });

  it('inflateSync gives what inflate gives: the same bytes, or a FormatError for the same input, in both backends', async () => {
    for (const w of wrappers) {
      const good = await node.deflate(w, sample(5000, 5), 6);
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: good.length + 3 }), fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(MAX, 5000, 4999), async (cut, at, xor, max) => {
          const bad = Uint8Array.of(...good, 0, 0, 7).slice(0, cut);
          if (at < bad.length) bad[at]! ^= xor;
          for (const b of [node, pako]) {
            // which of two faults is named can differ (a cut-short stream that also decodes past max)
            const sync = await outcome((async () => b.inflateSync(w, bad, max))());
            assert.equal(sync === 'ok', (await outcome(b.inflate(w, bad, max))) === 'ok', `${b.name} ${w}`);
            if (sync === 'ok') equalBytes(b.inflateSync(w, bad, max), await b.inflate(w, bad, max));
          }
          // within the limit, only one fault is possible: the code is the same
          if (max === MAX) for (const b of [node, pako]) assert.equal(await outcome((async () => b.inflateSync(w, bad, max))()), await outcome(b.inflate(w, bad, max)));
        }),
        { numRuns: 100 },
      );
    }
  });

  it('gzip members may be concatenated, even split exactly at a chunk boundary', async () => {
    const [a, b] = [sample(1000, 3), sample(2000, 4)];
    const one = await node.deflate('gzip', a, 6);
    const two = await node.deflate('gzip', b, 6);
    const both = Uint8Array.of(...one, ...two);
    for (const backend of [node, pako]) {
      equalBytes(await backend.inflate('gzip', both, MAX), Uint8Array.of(...a, ...b));
      equalBytes(await gather(backend.inflateStream('gzip', chunked(both, [one.length]), MAX)), Uint8Array.of(...a, ...b));
    }
  });
});

describe('pako fallback', () => {
  it('is used when node:zlib cannot be imported', () => {
    // A module hook that makes `import('node:zlib')` fail, as in runtimes without it.
    const hooks = 'export async function resolve(s, c, next) { if (s === "node:zlib") throw new Error("no zlib here"); return next(s, c); }';
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));
      const { deflateBackend } = await import('./src/codec/deflate.ts');
      const { codec } = await import('./src/codec/gzip.ts');
      const data = new TextEncoder().encode('fallback '.repeat(100));
      const back = await codec.decode(await codec.encode(data));
      console.log(JSON.stringify({ name: (await deflateBackend()).name, ok: back.length === data.length }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { name: 'pako', ok: true });
  });
});
