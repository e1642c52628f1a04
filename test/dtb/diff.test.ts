/** Differential tests against dtc 1.6.1's tools: dtc (options), fdtdump, fdtget, fdtput, and the fdt CLI. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFdt, formatDump } from '../../src/dtb/index.js';
import { run, skipUnless } from './helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const fixtures = join(root, 'test/fixtures/dtb');
const fdt = join(root, 'bin/fdt');
let tmp = '';

before(() => {
  if (!existsSync(join(root, 'dist/cli/fdt.js')) || !existsSync(join(root, 'dist/dtb/index.js')))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
  tmp = mkdtempSync(join(tmpdir(), 'imgkit-fdt-'));
  // every kind of value dtc's source writer distinguishes (memreserve labels, labels inside values, /bits/, incbin, escapes)
  execFileSync('sh', ['-c', 'cat > values.dts'], { cwd: tmp, input: [
    '/dts-v1/;', 'a: b: /memreserve/ 0x1000 0x2000;', '/memreserve/ 0x3000 0x10;', '/ {',
    '\tl1: l2: p1 = "x\\ty\\"\\\\", "second", l3: <1 l4: 2 &n1> l5:, [00 l6: ff 10], /bits/ 16 <0xffff 3>, /bits/ 64 <5>, /bits/ 8 <7 8>;',
    '\tp2 = &n1, "s";', '\tp3 = /incbin/("blob.bin");', '\tp5 = <>;', '\tp6 = [];', '\tp7 = <&n1>, "";', '\tp8;', '\tll: p9 = "\\x01\\x80";',
    '\tn1: node@1 { x = <0x12345678 0>; n2: n3: sub { }; };', '\t/omit-if-no-ref/ gone { };', '\te { };', '};', '&n1 { y = "q"; };', ''].join('\n') });
  for (const f of ['features.dts', 'overlay.dts', 'blob.bin', 'features.dtb', 'features-sym.dtb', 'overlay.dtbo']) copyFileSync(join(fixtures, f), join(tmp, f));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const OPTION_SETS = [[], ['-@'], ['-p', '100'], ['-S', '4096'], ['-a', '64'], ['-p', '10', '-a', '16'], ['-R', '2'], ['-V', '16'],
  ['-H', 'legacy'], ['-H', 'both'], ['-s'], ['-b', '3'], ['-A'], ['-@', '-s'], ['-V', '2'], ['-V', '3'], ['-V', '1']];

describe('fdt compile vs dtc', { skip: skipUnless('dtc') }, () => {
  for (const opts of OPTION_SETS) {
    it(`dtc ${opts.join(' ') || '(defaults)'}`, () => {
      const ref = run('dtc', ['-q', '-O', 'dtb', ...opts, 'features.dts'], { cwd: tmp });
      assert.equal(ref.code, 0, ref.err);
      const ours = run(fdt, ['compile', '-q', '-O', 'dtb', ...opts, 'features.dts'], { cwd: tmp });
      assert.equal(ours.code, 0, ours.err);
      assert.deepEqual(ours.out, ref.out);
    });
  }
  it('plugin overlays with -@', () => {
    assert.deepEqual(run(fdt, ['compile', '-@', 'overlay.dts'], { cwd: tmp }).out, run('dtc', ['-q', '-@', 'overlay.dts'], { cwd: tmp }).out);
  });
  it('-I dtb -O dtb canonicalizes like dtc', () => {
    assert.deepEqual(run(fdt, ['compile', '-I', 'dtb', '-O', 'dtb', 'features-sym.dtb'], { cwd: tmp }).out, run('dtc', ['-q', '-I', 'dtb', '-O', 'dtb', 'features-sym.dtb'], { cwd: tmp }).out);
  });
  it('our decompiled DTS compiles with dtc to the same blob', () => {
    const dts = run(fdt, ['decompile', 'features-sym.dtb'], { cwd: tmp }).out;
    const again = run('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-b', '1', '-'], { cwd: tmp, input: dts });
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(again.out, readFileSync(join(tmp, 'features-sym.dtb')));
  });
  it('rejects what dtc rejects, with exit code 1', () => {
    const bad: Record<string, string> = {
      'ref.dts': '/dts-v1/; / { a = <&nowhere>; };',
      'order.dts': '/dts-v1/; / { n { }; p = <1>; };',
      'neg.dts': '/dts-v1/; / { a = <1 -1>; };',
      'range.dts': '/dts-v1/; / { a = /bits/ 8 <256>; };',
      'label.dts': '/dts-v1/; / { }; &missing { };',
      'dup.dts': '/dts-v1/; / { n { }; n { }; };',
    };
    for (const [name, text] of Object.entries(bad)) {
      execFileSync('sh', ['-c', `cat > ${name}`], { cwd: tmp, input: text });
      assert.notEqual(run('dtc', ['-q', name], { cwd: tmp }).code, 0, `dtc accepts ${name}`);
      const r = run(fdt, ['compile', name], { cwd: tmp });
      assert.equal(r.code, 1, `${name}: ${r.err}`);
    }
  });
});

describe('fdt compile -O dts vs dtc -O dts (treesource.c)', { skip: skipUnless('dtc') }, () => {
  for (const opts of [[], ['-@'], ['-s'], ['-A'], ['-H', 'both'], ['-@', '-s']]) {
    it(`DTS to DTS: labels, references and each value as written (${opts.join(' ') || 'defaults'})`, () => {
      for (const f of ['features.dts', 'overlay.dts', 'values.dts']) {
        const ref = run('dtc', ['-q', '-O', 'dts', ...opts, f], { cwd: tmp });
        assert.equal(ref.code, 0, ref.err);
        assert.ok(run(fdt, ['compile', '-q', '-O', 'dts', ...opts, f], { cwd: tmp }).out.equals(ref.out), `${f} ${opts.join(' ')}`);
      }
    });
  }
  it('DTB to DTS: values by dtc\'s guess (strings, cells, bytes)', () => {
    for (const f of ['features.dtb', 'features-sym.dtb', 'overlay.dtbo']) {
      const ref = run('dtc', ['-q', '-I', 'dtb', '-O', 'dts', f], { cwd: tmp });
      assert.ok(run(fdt, ['compile', '-q', '-I', 'dtb', '-O', 'dts', f], { cwd: tmp }).out.equals(ref.out), f);
    }
  });
});

describe('fdt dump vs fdtdump', { skip: skipUnless('fdtdump') }, () => {
  for (const f of ['features.dtb', 'features-sym.dtb', 'overlay.dtbo']) {
    it(f, () => {
      const ref = run('fdtdump', [f], { cwd: tmp });
      assert.equal(formatDump(new Uint8Array(readFileSync(join(tmp, f)))), ref.out.toString('latin1'));
      assert.equal(run(fdt, ['dump', f], { cwd: tmp }).out.toString('latin1'), ref.out.toString('latin1'));
    });
  }
});

describe('fdt get/set vs fdtget/fdtput', { skip: skipUnless('fdtget', 'fdtput') }, () => {
  it('get prints what fdtget prints', () => {
    const cases = [
      ['/soc/serial@3000', 'interrupts'], ['/soc/serial@3000', 'status'], ['/', 'compatible'], ['/expr', 'a'], ['/expr', 'bin'],
      ['/soc/gpio@2000', 'mixed'], ['/chosen', 'bootargs'],
    ];
    for (const t of [[], ['-t', 'x'], ['-t', 'u'], ['-t', 'bx'], ['-t', 'hx']])
      for (const [n, p] of cases) {
        const ref = run('fdtget', [...t, 'features.dtb', n!, p!], { cwd: tmp });
        const ours = run(fdt, ['get', ...t, 'features.dtb', n!, p!], { cwd: tmp });
        assert.equal(ours.code === 0, ref.code === 0, `${t} ${n} ${p}: ${ours.err} / ${ref.err}`);
        if (ref.code === 0) assert.equal(ours.out.toString('latin1'), ref.out.toString('latin1'), `${t} ${n} ${p}`);
      }
    assert.equal(run(fdt, ['get', '-p', 'features.dtb', '/soc/clock'], { cwd: tmp }).out.toString(), run('fdtget', ['-p', 'features.dtb', '/soc/clock'], { cwd: tmp }).out.toString());
    assert.equal(run(fdt, ['get', '-l', 'features.dtb', '/soc'], { cwd: tmp }).out.toString(), run('fdtget', ['-l', 'features.dtb', '/soc'], { cwd: tmp }).out.toString());
    assert.equal(run(fdt, ['get', 'features.dtb', '/nope', 'x'], { cwd: tmp }).code, 1);
  });
  it('set gives the tree fdtput gives (new properties and nodes first, as libfdt)', () => {
    const steps = [
      ['-t', 's', '/chosen', 'bootargs', 'console=ttyS1'], ['/soc/serial@3000', 'new-cells', '1', '2', '0x10'],
      ['-t', 'x', '/soc/serial@3000', 'hexes', 'ff', '10'], ['-c', '/newnode'], ['-d', '/soc/serial@3000', 'status'],
      ['-r', '/soc/clock'],
    ];
    copyFileSync(join(tmp, 'features.dtb'), join(tmp, 'a.dtb'));
    copyFileSync(join(tmp, 'features.dtb'), join(tmp, 'b.dtb'));
    for (const s of steps) {
      const opts = s.filter((x, i) => x.startsWith('-') || s[i - 1] === '-t');
      const rest = s.filter((x) => !opts.includes(x));
      assert.equal(run('fdtput', [...opts, 'a.dtb', ...rest], { cwd: tmp }).code, 0);
      const r = run(fdt, ['set', ...opts, 'b.dtb', ...rest], { cwd: tmp });
      assert.equal(r.code, 0, r.err);
    }
    const a = decodeFdt(new Uint8Array(readFileSync(join(tmp, 'a.dtb'))));
    const b = decodeFdt(new Uint8Array(readFileSync(join(tmp, 'b.dtb'))));
    assert.deepEqual(structuredClone(b.root), structuredClone(a.root));
  });
});
