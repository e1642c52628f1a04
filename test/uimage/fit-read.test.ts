/**
 * FIT library tests that need no reference tool: the object model builds the same bytes as the
 * equivalent .its text; file-backed payloads stream; verification catches a flipped byte; hostile
 * blobs (hash nodes without algo, data past the end of the file, configurations naming missing
 * images, deep nesting, oversized properties) are FormatErrors, and random corruption never gives any
 * other exception.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { filePayload, type StreamPayload } from '../../src/bytes/payload.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { memorySink } from '../../src/bytes/sink.js';
import { encodeFdt, fdtNode, propValue, type FdtNode } from '../../src/dtb/index.js';
import {
  buildFit, encodeFit, fitFromIts, fitFromSpec, openFit, verifyFit, writeFit, FitBuildError, type FitSpec,
} from '../../src/uimage/index.js';
import { tempDir } from '../helpers.js';
import { pattern } from './fit-data.js';

const T = 315532800;
const s = (name: string, v: string) => ({ name, value: propValue.strings(v) });
const c = (name: string, ...v: number[]) => ({ name, value: propValue.cells(...v) });
const blob = (root: FdtNode) => encodeFdt({ version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root });

const ITS = `/dts-v1/;
/ {
	description = "model";
	#address-cells = <1>;
	images {
		kernel-1 { description = "k"; data = /incbin/("k.bin"); type = "kernel"; arch = "arm"; os = "linux"; compression = "none"; load = <0x40008000>; entry = <0x40008000>;
			hash-1 { algo = "sha256"; }; hash-2 { algo = "crc32"; }; };
		ramdisk-1 { data = /incbin/("r.bin"); type = "ramdisk"; arch = "arm"; os = "linux"; compression = "none"; hash-1 { algo = "sha1"; }; };
	};
	configurations { default = "conf-1"; conf-1 { description = "c"; kernel = "kernel-1"; ramdisk = "ramdisk-1"; }; };
};
`;

describe('FIT library: object model, streaming, verification', () => {
  let dir = '';
  let spec: FitSpec;
  before(async () => {
    dir = tempDir('imgkit-fit-lib-');
    writeFileSync(join(dir, 'k.bin'), pattern(9 << 20, 7)); // 9 MiB: several 4 MiB read chunks
    writeFileSync(join(dir, 'r.bin'), pattern(1001, 8));
    writeFileSync(join(dir, 'm.its'), ITS);
    spec = {
      description: 'model',
      images: [
        { name: 'kernel-1', description: 'k', data: await filePayload(join(dir, 'k.bin')), type: 'kernel', arch: 'arm', os: 'linux', compression: 'none', load: 0x40008000, entry: 0x40008000, hashes: ['sha256', 'crc32'] },
        { name: 'ramdisk-1', data: await filePayload(join(dir, 'r.bin')), type: 'ramdisk', arch: 'arm', os: 'linux', compression: 'none', hashes: ['sha1'] },
      ],
      configurations: [{ name: 'conf-1', description: 'c', kernel: 'kernel-1', ramdisk: 'ramdisk-1' }],
    };
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  for (const external of [false, true]) {
    it(`the object model (file payloads, streamed) and the .its text give the same bytes${external ? ' (-E)' : ''}`, async () => {
      const a = await encodeFit(fitFromSpec(spec), { time: T, external });
      const b = await encodeFit(fitFromIts(join(dir, 'm.its')), { time: T, external });
      assert.deepEqual(a.bytes, b.bytes);
      const fit = await openFit(bytesAccess(a.bytes));
      assert.deepEqual(fit.images.map((i) => [i.name, i.dataSize, i.dataKind]), [['kernel-1', 9 << 20, external ? 'offset' : 'internal'], ['ramdisk-1', 1001, external ? 'offset' : 'internal']]);
      assert.ok((await verifyFit(fit)).ok);
    });
  }

  it('writeFit passes the payload chunks through (the image is never gathered into one buffer)', async () => {
    const big = pattern(6 << 20, 9);
    let biggest = 0;
    const chunked: StreamPayload = {
      size: big.length,
      async *chunks() {
        for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536);
      },
    };
    const spec1: FitSpec = { description: 'big', images: [{ name: 'k', data: chunked, type: 'kernel', arch: 'arm', os: 'linux', compression: 'none', load: 0, entry: 0, hashes: ['sha512'] }], configurations: [{ name: 'c', kernel: 'k' }] };
    for (const external of [false, true]) {
      const built = await buildFit(fitFromSpec(spec1), { time: T, external });
      const sink = memorySink();
      const orig = sink.writev.bind(sink);
      const spy = { ...sink, position: 0, writev: (cs: readonly Uint8Array[]) => { for (const x of cs) biggest = Math.max(biggest, x.length); return orig(cs); } };
      Object.defineProperty(spy, 'position', { get: () => sink.position });
      await writeFit(spy, built);
      const whole = await encodeFit(fitFromSpec({ ...spec1, images: [{ ...spec1.images[0]!, data: big }] }), { time: T, external });
      assert.deepEqual(sink.bytes(), whole.bytes);
      assert.ok(biggest <= 65536 + 4096, `largest write ${biggest}`);
    }
  });

  it('a flipped byte in hashed image data fails verification and names the hash node', async () => {
    const { bytes } = await encodeFit(fitFromIts(join(dir, 'm.its')), { time: T });
    const fit0 = await openFit(bytesAccess(bytes));
    const r = fit0.images[1]!;
    const bad = bytes.slice();
    bad[r.dataAt + 500] = bad[r.dataAt + 500]! ^ 1;
    const v = await verifyFit(await openFit(bytesAccess(bad)));
    assert.equal(v.ok, false);
    assert.deepEqual(v.hashes.filter((h) => !h.ok).map((h) => `${h.image}/${h.node}`), ['ramdisk-1/hash-1']);
  });

  it('build mistakes mkimage also refuses are FitBuildErrors', async () => {
    const base = (img: FdtNode) => ({ fdt: { version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root: fdtNode('', [], [fdtNode('images', [], [img])]) } });
    await assert.rejects(encodeFit(base(fdtNode('k', [s('type', 'kernel')])), { time: T }), FitBuildError); // no data
    await assert.rejects(encodeFit(base(fdtNode('k', [{ name: 'data', value: new Uint8Array(3) }], [fdtNode('hash-1', [s('algo', 'sha3')])])), { time: T }), /Unsupported hash algorithm \(sha3\)/);
    await assert.rejects(encodeFit(base(fdtNode('k', [{ name: 'data', value: new Uint8Array(3) }], [fdtNode('hash-1', [])])), { time: T }), /Can't get hash algo/);
    await assert.rejects(encodeFit({ fdt: { version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root: fdtNode('') } }, { time: T }), FitBuildError);
  });
});

describe('FIT hostile input: FormatError, never another exception', () => {
  const image = (extra: FdtNode['props'] = [], kids: FdtNode[] = []) => fdtNode('kernel-1', [{ name: 'data', value: new Uint8Array(8) }, s('type', 'kernel'), ...extra], kids);
  const fitRoot = (images: FdtNode[], confs: FdtNode[] = [], rootProps: FdtNode['props'] = []) =>
    fdtNode('', rootProps, [fdtNode('images', [], images), fdtNode('configurations', [s('default', confs[0]?.name ?? 'x')], confs)]);
  const expectCode = async (bytes: Uint8Array, code: FormatError['code'], re: RegExp) => {
    await assert.rejects(openFit(bytesAccess(bytes)), (e: unknown) => e instanceof FormatError && e.code === code && re.test(e.message));
  };

  it('BAD_FIELD: a hash node without algo', async () => {
    await expectCode(blob(fitRoot([image([], [fdtNode('hash-1', [{ name: 'value', value: new Uint8Array(4) }])])], [fdtNode('c', [s('kernel', 'kernel-1')])])), 'BAD_FIELD', /hash node without algo/);
  });
  it('TRUNCATED: data-offset or data-position past the end of the file', async () => {
    const ext = (p: string) => fdtNode('kernel-1', [c('data-size', 100), c(p, p === 'data-offset' ? 0x10 : 0x1000), s('type', 'kernel')]);
    await expectCode(blob(fitRoot([ext('data-offset')], [fdtNode('c', [s('kernel', 'kernel-1')])])), 'TRUNCATED', /run past the end of the file/);
    await expectCode(blob(fitRoot([ext('data-position')], [fdtNode('c', [s('kernel', 'kernel-1')])])), 'TRUNCATED', /run past the end of the file/);
    const huge = fdtNode('kernel-1', [c('data-size', 0xffffffff), c('data-offset', 0xfffffff0), s('type', 'kernel')]);
    await expectCode(blob(fitRoot([huge], [fdtNode('c', [s('kernel', 'kernel-1')])])), 'TRUNCATED', /past the end/);
  });
  it('BAD_FIELD: configurations naming images that do not exist, or a missing default', async () => {
    await expectCode(blob(fitRoot([image()], [fdtNode('c', [s('kernel', 'kernel-1'), { name: 'fdt', value: propValue.strings('fdt-9') }])])), 'BAD_FIELD', /fdt names image 'fdt-9'/);
    await expectCode(blob(fitRoot([image()], [fdtNode('c', [s('loadables', 'nope')])])), 'BAD_FIELD', /does not exist/);
    const r = fitRoot([image()], [fdtNode('c', [s('kernel', 'kernel-1')])]);
    r.children[1]!.props[0] = s('default', 'gone');
    await expectCode(blob(r), 'BAD_FIELD', /default 'gone' does not exist/);
  });
  it('LIMIT: nesting deeper than the bound (no recursion on the input)', async () => {
    let deep = fdtNode('leaf');
    for (let i = 0; i < 40; i++) deep = fdtNode(`n${i}`, [], [deep]);
    await expectCode(blob(fitRoot([image([], [deep])])), 'LIMIT', /nesting deeper/);
  });
  it('TRUNCATED/BAD_FIELD: oversized property lengths and wrong value sizes', async () => {
    const ok = blob(fitRoot([image([c('load', 1)])], [fdtNode('c', [s('kernel', 'kernel-1')])]));
    const dv = new DataView(ok.buffer);
    const bad = ok.slice();
    // the data property's length field (first property of kernel-1) set to 2^32 - 1
    const at = Buffer.from(ok).indexOf(Buffer.from('kernel-1\0')) + 12;
    new DataView(bad.buffer).setUint32(at + 4, 0xffffffff);
    await assert.rejects(openFit(bytesAccess(bad)), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED');
    void dv;
    await expectCode(blob(fitRoot([image([{ name: 'load', value: new Uint8Array(3) }])], [fdtNode('c', [s('kernel', 'kernel-1')])])), 'BAD_FIELD', /not 1 or 2 cells/);
    await expectCode(blob(fitRoot([image([], [fdtNode('hash-1', [s('algo', 'sha256'), { name: 'value', value: new Uint8Array(5) }])])])), 'BAD_FIELD', /not 32/);
    await expectCode(blob(fdtNode('', [], [fdtNode('configurations')])), 'BAD_FIELD', /no '\/images'/);
  });

  it('random byte flips and truncations of a signed-shape FIT: a value or a FormatError', async () => {
    const its = ITS.replace(/\/incbin\/\("k.bin"\)/, '[01 02 03 04 05]').replace(/\/incbin\/\("r.bin"\)/, '[aa bb]');
    const dir = tempDir('imgkit-fit-fuzz-');
    try {
      writeFileSync(join(dir, 'f.its'), its);
      const good = (await encodeFit(fitFromIts(join(dir, 'f.its')), { time: T })).bytes;
      await fc.assert(fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat({ max: good.length }),
        async (flips, cut) => {
          const b = good.slice(0, Math.max(cut, 1));
          for (const [i, x] of flips) if (i < b.length) b[i] = b[i]! ^ x;
          try {
            const fit = await openFit(bytesAccess(b));
            await verifyFit(fit);
          } catch (e) {
            if (!(e instanceof FormatError)) throw e;
          }
        },
      ), { seed: 0x6669, numRuns: 400 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
