/** Layout, golden fixtures from dtc 1.6.1 (see test/fixtures/dtb/SOURCES.md), bad/ fixtures. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  FdtHeader, decodeFdt, encodeFdt, compileDts, fileAccessFor, openFdt, findNode, getProp, asCells, asStrings, formatDts,
  reprocessFdt, type CompileOptions, type EncodeOptions,
} from '../../src/dtb/index.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { FormatError } from '../../src/bytes/errors.js';

const dir = new URL('../fixtures/dtb/', import.meta.url).pathname;
const fx = (n: string): Uint8Array => new Uint8Array(readFileSync(join(dir, n)));
const src = (n: string) => ({ name: join(dir, n), text: readFileSync(join(dir, n), 'latin1') });

const CASES: [string, CompileOptions, EncodeOptions][] = [
  ['features.dtb', {}, {}],
  ['features-sym.dtb', { symbols: true }, {}],
  ['features-sym-s.dtb', { symbols: true, sort: true }, {}],
  ['features-p100.dtb', {}, { pad: 100 }],
  ['features-S4096.dtb', {}, { minSize: 4096 }],
  ['features-a64.dtb', {}, { align: 64 }],
  ['features-p10-a16.dtb', {}, { pad: 10, align: 16 }],
  ['features-R2.dtb', {}, { reserveSlots: 2 }],
  ['features-V16.dtb', {}, { version: 16 }],
  ['features-Hlegacy.dtb', { phandleFormat: 'legacy' }, {}],
  ['features-Hboth.dtb', { phandleFormat: 'both' }, {}],
  ['features-s.dtb', { sort: true }, {}],
  ['features-b3.dtb', { bootCpuid: 3 }, {}],
  ['features-A.dtb', { autoAliases: true }, {}],
];

describe('fdt layout', () => {
  it('header struct matches libfdt/fdt.h', () => {
    assert.equal(FdtHeader.size, 40);
    assert.equal(FdtHeader.offsets.offDtStruct, 0x08);
    assert.equal(FdtHeader.offsets.bootCpuidPhys, 0x1c);
    assert.equal(FdtHeader.offsets.sizeDtStruct, 0x24);
  });
});

describe('fdt golden (dtc 1.6.1)', () => {
  for (const [file, copts, eopts] of CASES) {
    it(`compile features.dts = ${file}`, () => {
      const dts = file === 'features.dtb' ? 'features.dts' : 'features.dts';
      const fdt = compileDts(src(dts), { ...copts, ...fileAccessFor([]) });
      assert.deepEqual(encodeFdt(fdt, eopts), fx(file));
    });
  }
  it('compile overlay.dts (/plugin/, __fixups__, __local_fixups__, -@) = overlay.dtbo', () => {
    assert.deepEqual(encodeFdt(compileDts(src('overlay.dts'), { symbols: true })), fx('overlay.dtbo'));
  });
  for (const [file, , eopts] of CASES) {
    it(`decode then encode ${file} gives the same bytes`, () => {
      const d = decodeFdt(fx(file));
      assert.deepEqual(encodeFdt(d, { ...eopts, ...(d.version === 16 ? { version: 16 } : {}) }), fx(file));
    });
  }
  it('decodes the model: paths, phandles, values, memreserves', async () => {
    const fdt = decodeFdt(fx('features.dtb'));
    assert.deepEqual(fdt.reserve, [{ address: 0x10000000n, size: 0x4000n }, { address: 0xffffffff00000000n, size: 0x100000000n }]);
    assert.equal(fdt.bootCpuidPhys, 1, 'dtc guesses the boot cpu from the first /cpus child');
    const uart = findNode(fdt.root, '/soc/serial@3000')!;
    assert.deepEqual(asStrings(getProp(uart, 'status')!.value), ['okay']);
    assert.deepEqual(asCells(getProp(uart, 'interrupts')!.value), [0x13, 1]);
    assert.equal(findNode(fdt.root, '/soc/unused-node'), undefined, '/omit-if-no-ref/ removed the unreferenced node');
    assert.ok(findNode(fdt.root, '/soc/keep2-node'), 'a referenced /omit-if-no-ref/ node stays');
    assert.equal(findNode(fdt.root, '/to-delete'), undefined);
    assert.deepEqual(findNode(fdt.root, '/merged')!.props.map((p) => p.name), ['first', 'third']);
    const v = await openFdt(bytesAccess(fx('features.dtb')));
    const clk = v.phandleOffset(0x20)!;
    assert.equal(v.name(clk), 'clock');
    assert.equal(v.pathOffset('/soc/serial'), v.pathOffset('/soc/serial@3000'), 'a name without unit address matches, as libfdt');
    assert.deepEqual(v.node(v.pathOffset('/cpus')!), findNode(fdt.root, '/cpus'));
  });
  it('dtc -I dtb -O dtb canonicalizes: the same bytes for a dtc blob', () => {
    assert.deepEqual(encodeFdt(reprocessFdt(decodeFdt(fx('features.dtb')))), fx('features.dtb'));
  });
  it('decompiled DTS recompiles to the same blob', () => {
    for (const [file, , eopts] of CASES) {
      if (file.includes('V16')) continue;
      const d = decodeFdt(fx(file));
      const again = encodeFdt(compileDts({ name: 'x.dts', text: formatDts(d) }, { bootCpuid: d.bootCpuidPhys }), eopts);
      assert.deepEqual(again, fx(file), file);
    }
  });
});

describe('fdt bad/ fixtures: the file name is the error code', () => {
  for (const f of readdirSync(join(dir, 'bad'))) {
    it(f, () => {
      const code = f.split('--')[0];
      assert.throws(() => decodeFdt(fx(`bad/${f}`)), (e) => e instanceof FormatError && e.code === code && e.format === 'fdt');
    });
  }
});
