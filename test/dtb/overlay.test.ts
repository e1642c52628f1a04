/**
 * `applyOverlays` / `fdt overlay`: golden outputs of fdtoverlay 1.6.1, bad/ overlays (the file name is the
 * FormatError code, the .dts comment says what fdtoverlay does), hostile input, and differential runs
 * against fdtoverlay on the fixtures and on generated base + overlay sequences.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { applyOverlays, compileDts, encodeFdt, decodeFdt, findNode, getProp, asCells, asString, fdtNode, propValue, type FdtNode } from '../../src/dtb/index.js';
import { FormatError } from '../../src/bytes/errors.js';
import { preprocess } from '../../src/dtb/cpp.js';
import { fileAccessFor } from '../../src/dtb/dts/files.js';
import { CORPUS_CACHE, linuxTree, skipUnless } from './helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = join(root, 'test/fixtures/dtb/overlay');
const fx = (n: string): Uint8Array => new Uint8Array(readFileSync(join(dir, n)));
const SEED = 0x0f17_0ae1;

/** [expected output, base, overlays…]: made by `fdtoverlay -i BASE -o OUT OV…` (SOURCES.md). */
const GOLDEN: [string, string, string[]][] = [
  ['out-basic.dtb', 'base.dtb', ['ov-basic.dtbo']],
  ['out-seq.dtb', 'base.dtb', ['ov-basic.dtbo', 'ov-local.dtbo', 'ov-seq.dtbo']],
  ['out-explicit.dtb', 'base.dtb', ['ov-explicit.dtbo']],
  ['out-nosym.dtb', 'base-nosym.dtb', ['ov-nosym-path.dtbo']],
];
const BAD = readdirSync(join(dir, 'bad')).filter((f) => f.endsWith('.dtbo')).sort();
/** What the .dts comment says fdtoverlay prints, e.g. "FDT_ERR_NOTFOUND" (none when it crashes or loops). */
const fdtoverlayErr = (bad: string): string | undefined =>
  /^\/\* fdtoverlay: (FDT_ERR_\w+)/m.exec(readFileSync(join(dir, 'bad', bad.replace(/\.dtbo$/, '.dts')), 'latin1'))?.[1];

function throwsFormat(fn: () => unknown, code?: string): FormatError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
    if (code) assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail('expected a FormatError');
}

describe('fdt overlay: golden outputs of fdtoverlay 1.6.1', () => {
  for (const [out, base, ovs] of GOLDEN) {
    it(`${base} + ${ovs.join(' + ')} = ${out}`, () => {
      assert.deepEqual(applyOverlays(fx(base), ovs.map(fx)), fx(out));
    });
  }
  it('the merged tree has what the overlays say', () => {
    const t = decodeFdt(applyOverlays(fx('base.dtb'), ['ov-basic.dtbo', 'ov-local.dtbo', 'ov-seq.dtbo'].map(fx))).root;
    const uart = findNode(t, '/soc/uart@200')!;
    assert.equal(asString(getProp(uart, 'status')!.value), 'okay');
    const dma = asCells(getProp(findNode(t, '/soc/dma@400')!, 'phandle')!.value)![0];
    assert.equal(asCells(getProp(uart, 'dmas')!.value)![0], dma);
    // local fixups: the key's gpio reference follows the gpio controller's raised phandle
    const gpio = asCells(getProp(findNode(t, '/soc/gpio@600')!, 'phandle')!.value)![0];
    assert.equal(asCells(getProp(findNode(t, '/soc/keys/reset')!, 'gpios')!.value)![0], gpio);
    // ov-seq refers to led_user, which only ov-local's __symbols__ brought into the base
    assert.equal(asString(getProp(findNode(t, '/__symbols__')!, 'led_user')!.value), '/leds/user');
    assert.equal(asCells(getProp(findNode(t, '/leds/user')!, 'owner')!.value)![0], gpio);
    // libfdt puts new properties and subnodes first
    assert.deepEqual(findNode(t, '/leds')!.children.map((c) => c.name), ['user', 'led1', 'led0']); // each new one goes before the last
    assert.equal(uart.props[0]!.name, 'dma-names');
  });
  it('leaves its inputs untouched', () => {
    const base = fx('base.dtb'), ov = fx('ov-local.dtbo');
    const [b0, o0] = [base.slice(), ov.slice()];
    applyOverlays(base, [ov, fx('ov-seq.dtbo')]);
    assert.deepEqual(base, b0);
    assert.deepEqual(ov, o0);
  });
});

describe('fdt overlay: bad/ overlays on base.dtb', () => {
  for (const f of BAD) {
    it(f, () => {
      const ov = fx(join('bad', f));
      const e = throwsFormat(() => applyOverlays(fx('base.dtb'), [ov], { names: [f] }), f.split('--')[0]);
      assert.ok(e.offset > 0 && e.offset < ov.length, `offset 0x${e.offset.toString(16)} lies in the overlay`);
      assert.match(e.message, new RegExp(`Cannot apply overlay '${f}'`));
      const err = fdtoverlayErr(f);
      if (err) assert.match(e.message, new RegExp(`\\(${err}\\)`));
    });
  }
});

const blob = (rootNode: FdtNode): Uint8Array => encodeFdt({ version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [], root: rootNode });
const str = (s: string) => propValue.strings(s);
const frag = (name: string, props: FdtNode['props'], body: FdtNode) => fdtNode(name, props, [body]);

describe('fdt overlay: hostile input', () => {
  it('aliases in a loop (a -> b -> a) are an error, not a stack overflow', () => {
    const base = blob(fdtNode('', [], [fdtNode('aliases', [{ name: 'a', value: str('b') }, { name: 'b', value: str('a/x') }])]));
    const ov = blob(fdtNode('', [], [frag('fragment@0', [{ name: 'target-path', value: str('a') }], fdtNode('__overlay__', [{ name: 'p', value: str('') }]))]));
    const e = throwsFormat(() => applyOverlays(base, [ov]), 'BAD_FIELD');
    assert.match(e.message, /loop/);
  });
  it('a base __symbols__ entry that goes through a looping alias is an error', () => {
    const base = blob(fdtNode('', [], [fdtNode('aliases', [{ name: 'l', value: str('l') }]), fdtNode('__symbols__', [{ name: 'x', value: str('l') }])]));
    const ov = blob(fdtNode('', [], [
      frag('fragment@0', [{ name: 'target-path', value: str('/') }], fdtNode('__overlay__', [{ name: 'r', value: propValue.cells(0) }])),
      fdtNode('__fixups__', [{ name: 'x', value: str('/fragment@0/__overlay__:r:0') }]),
    ]));
    throwsFormat(() => applyOverlays(base, [ov]), 'BAD_FIELD');
  });
  it('the base holding phandle 0xffffffff leaves no room for overlay phandles (FDT_ERR_NOPHANDLES)', () => {
    const base = blob(fdtNode('', [], [fdtNode('n', [{ name: 'phandle', value: propValue.cells(0xffffffff) }])]));
    const ov = blob(fdtNode('', [], [frag('fragment@0', [{ name: 'target-path', value: str('/') }], fdtNode('__overlay__', [], [fdtNode('m', [{ name: 'phandle', value: propValue.cells(1) }])]))]));
    const e = throwsFormat(() => applyOverlays(base, [ov]), 'LIMIT');
    assert.match(e.message, /FDT_ERR_NOPHANDLES/);
  });
  it('nesting deeper than maxDepth is a LIMIT error', () => {
    let n = fdtNode('leaf');
    for (let i = 0; i < 300; i++) n = fdtNode(`n${i}`, [], [n]);
    const ov = blob(fdtNode('', [], [frag('fragment@0', [{ name: 'target-path', value: str('/') }], fdtNode('__overlay__', [], [n]))]));
    throwsFormat(() => applyOverlays(fx('base.dtb'), [ov]), 'LIMIT');
    assert.ok(applyOverlays(fx('base.dtb'), [ov], { maxDepth: 400 }).length > 0);
  });
  it('a base whose root is not the first token is refused (libfdt takes offset 0 as the root)', () => {
    const b = fx('base-nosym.dtb');
    const dv = new DataView(b.buffer, b.byteOffset);
    const structAt = dv.getUint32(8);
    const nopFirst = new Uint8Array(b.length + 4);
    nopFirst.set(b.subarray(0, structAt));
    new DataView(nopFirst.buffer).setUint32(structAt, 4); // FDT_NOP
    nopFirst.set(b.subarray(structAt), structAt + 4);
    const nv = new DataView(nopFirst.buffer);
    for (const [field, grow] of [[4, 4], [12, 4], [36, 4]] as const) nv.setUint32(field, nv.getUint32(field) + grow);
    throwsFormat(() => applyOverlays(nopFirst, [fx('ov-nosym-path.dtbo')]), 'BAD_FIELD');
  });
  it('any corruption of base or overlay gives a blob or a FormatError, never another exception', () => {
    const inputs = [fx('base.dtb'), fx('ov-basic.dtbo'), fx('ov-local.dtbo')];
    const edit = fc.record({
      which: fc.nat({ max: 2 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { freq: 5 }),
    });
    fc.assert(fc.property(edit, ({ which, flips, cut }) => {
      const bufs = inputs.map((b) => b.slice());
      let b = bufs[which]!;
      for (const [i, v] of flips) b[i % b.length] = v;
      if (cut !== null) b = bufs[which] = b.subarray(0, cut % b.length);
      try {
        applyOverlays(bufs[0]!, bufs.slice(1));
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
      }
    }), { seed: SEED, numRuns: 600 });
  });
  it('structure-aware hostile overlays (random targets, fixups, local fixups, symbols) give a blob or a FormatError', () => {
    fc.assert(fc.property(hostileOverlay, (ov) => {
      try {
        applyOverlays(fx('base.dtb'), [blob(ov)]);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
      }
    }), { seed: SEED, numRuns: 400 });
  });
});

// ---- hostile overlay models ---------------------------------------------------------------------

const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
const ovPaths = pick('/fragment@0/__overlay__', '/fragment@0/__overlay__', '/fragment@0/__overlay__/sub', 'ovalias', '/fragment@0', 'ovalias', 'ovalias/sub', '', '//fragment@0//__overlay__/', '/nowhere');
const offsets = pick('0', '0', '4', '8', '3', '-4', ' 4', '+0', '4294967292', '99999999999999999999', '', 'x', '0x4');
const fixupEntry = fc.tuple(ovPaths, pick('r', 'r', 'r', 'q', 'nothere', ''), offsets).map(([p, n, o]) => `${p}:${n}:${o}`);
const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** Present `w` times in `w + 1`. */
const often = <T>(a: fc.Arbitrary<T>, w = 2) => fc.oneof({ arbitrary: a, weight: w }, { arbitrary: fc.constant(null), weight: 1 });
const hostileOverlay: fc.Arbitrary<FdtNode> = fc.record({
  target: often(fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 7 }).map((v) => propValue.cells(v)), weight: 4 },
    { arbitrary: pick(0, 0xffffffff, 0x999).map((v) => propValue.cells(v)), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 8 }), weight: 1 },
  )),
  targetPath: often(pick('/', '/soc', '/soc@1000000', 'serial0', 'serial0/x', 'loop', '', '/soc/uart', '/nowhere').map(str)),
  props: fc.array(fc.tuple(pick('q', 'q', 'q', 'status', 'status', 'status', 'phandle', 'linux,phandle'), fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.integer({ min: 1, max: 9 }).map((v) => propValue.cells(v)))), { maxLength: 3 }),
  fixups: often(fc.array(fc.tuple(pick('uart0', 'soc', 'intc', 'nolabel', 'leds'), fc.array(fixupEntry, { minLength: 0, maxLength: 3 })), { maxLength: 3 })),
  local: often(fc.tuple(fc.oneof({ arbitrary: fc.constant('__overlay__'), weight: 6 }, { arbitrary: pick('sub', 'nothere'), weight: 1 }), fc.array(fc.tuple(pick('r', 'r', 'r', 'nothere'), fc.array(fc.nat({ max: 12 }), { maxLength: 3 })), { maxLength: 3 })), 1),
  symbols: often(fc.array(fc.tuple(pick('s1', 's2', 'uart0'), pick('/fragment@0/__overlay__', '/fragment@0/__overlay__/sub', '/fragment@0/__overlay__/', '/fragment@1/__overlay__/x', 'rel', '/', '/fragment@0', '/fragment@0/__overlayx').map(str)), { maxLength: 3 })),
  symbolRaw: fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 6 }), weight: 1 }, { arbitrary: fc.constant(null), weight: 8 }),
}).map((m) => {
  const fragProps = [
    ...(m.target ? [{ name: 'target', value: m.target }] : []),
    ...(m.targetPath ? [{ name: 'target-path', value: m.targetPath }] : []),
  ];
  const body = fdtNode('__overlay__', [{ name: 'r', value: propValue.cells(0, 0, 0) }, ...m.props.map(([name, value]) => ({ name, value }))], [fdtNode('sub', [{ name: 'r', value: propValue.cells(1, 2) }])]);
  const sections = [frag('fragment@0', fragProps, body), fdtNode('aliases', [{ name: 'ovalias', value: str('/fragment@0/__overlay__') }])];
  if (m.fixups) sections.push(fdtNode('__fixups__', m.fixups.map(([name, es]) => ({ name, value: bytesOf(es.map((e) => `${e}\0`).join('')) }))));
  if (m.local) sections.push(fdtNode('__local_fixups__', [], [fdtNode('fragment@0', [], [fdtNode(m.local[0], m.local[1].map(([name, offs]) => ({ name, value: propValue.cells(...offs) })))])]));
  if (m.symbols || m.symbolRaw)
    sections.push(fdtNode('__symbols__', [...(m.symbols ?? []).map(([name, value]) => ({ name, value })), ...(m.symbolRaw ? [{ name: 'raw', value: m.symbolRaw }] : [])]));
  return fdtNode('', [], sections);
});

// ---- generated DTS pairs for the differential run -------------------------------------------------

type Val = { k: 'str'; s: string } | { k: 'cells'; c: number[] } | { k: 'bytes'; b: number[] } | { k: 'empty' } | { k: 'ref'; i: number };
interface GNode { label: boolean; props: [string, Val][]; children: [string, GNode][] }
const NODE_NAMES = ['a', 'b', 'dev@1', 'dev@2', 'bus', 'bus@10', 'x-y', 'node_with_a_long_name'];
const PROP_NAMES = ['status', 'compatible', 'reg', 'val', 'data', 'a-very-long-property-name', 'p', 'names', 'refs', 'long'];
const val: fc.Arbitrary<Val> = fc.oneof(
  fc.string({ unit: pick(...'abcdefghij xyz,'), maxLength: 40 }).map((s) => ({ k: 'str' as const, s })),
  fc.array(fc.nat(), { minLength: 1, maxLength: 5 }).map((c) => ({ k: 'cells' as const, c })),
  fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 9 }).map((b) => ({ k: 'bytes' as const, b })),
  fc.constant({ k: 'empty' as const }),
  fc.nat().map((i) => ({ k: 'ref' as const, i })),
  fc.nat().map((i) => ({ k: 'ref' as const, i })),
);
const gnode = (depth: number): fc.Arbitrary<GNode> => fc.record({
  label: fc.boolean(),
  props: fc.uniqueArray(fc.tuple(pick(...PROP_NAMES), val), { selector: (p) => p[0], maxLength: 4 }),
  children: depth > 0 ? fc.uniqueArray(fc.tuple(pick(...NODE_NAMES), gnode(depth - 1)), { selector: (c) => c[0], maxLength: 3 }) : fc.constant([]),
});
const overlaySpec = fc.array(fc.record({ target: fc.nat(), byPath: fc.boolean(), body: gnode(2) }), { minLength: 1, maxLength: 3 });
const sequence = fc.record({ base: gnode(3), overlays: fc.array(overlaySpec, { minLength: 1, maxLength: 3 }) });

/** Renders generated nodes as DTS, naming labels `${prefix}N` and resolving refs among `labels` (+ its own). */
class Renderer {
  readonly own: string[] = [];
  readonly paths: string[] = [];
  #n = 0;
  constructor(readonly prefix: string, readonly known: readonly string[]) {}
  /** First pass: give labels to the labeled nodes so that refs can point forward. */
  readonly labelOf = new Map<GNode, string>();
  assign(n: GNode, path: string): void {
    if (n.label && path !== '/') { // the root takes no label in DTS
      const label = `${this.prefix}${this.#n++}`;
      this.labelOf.set(n, label);
      this.own.push(label);
    }
    this.paths.push(path);
    for (const [name, c] of n.children) this.assign(c, `${path === '/' ? '' : path}/${name}`);
  }
  value(v: Val): string {
    const labels = [...this.known, ...this.own];
    switch (v.k) {
      case 'str': return `"${v.s}"`;
      case 'cells': return `<${v.c.map((c) => `0x${c.toString(16)}`).join(' ')}>`;
      case 'bytes': return `[${v.b.map((b) => b.toString(16).padStart(2, '0')).join(' ')}]`;
      case 'empty': return '';
      case 'ref': return labels.length ? `<&${labels[v.i % labels.length]} ${v.i % 7}>` : `<${v.i}>`;
    }
  }
  body(n: GNode, indent: string): string {
    let s = '';
    for (const [name, v] of n.props) {
      const text = this.value(v);
      s += `${indent}${name}${text ? ` = ${text}` : ''};\n`;
    }
    for (const [name, c] of n.children) {
      const label = this.labelOf.get(c);
      s += `${indent}${label ? `${label}: ` : ''}${name} {\n${this.body(c, indent + '\t')}${indent}};\n`;
    }
    return s;
  }
}

function renderSequence(spec: { base: GNode; overlays: { target: number; byPath: boolean; body: GNode }[][] }): { base: string; overlays: string[] } {
  const b = new Renderer('B', []);
  b.assign(spec.base, '/');
  const base = `/dts-v1/;\n/ {\n${b.body(spec.base, '\t')}};\n`;
  const labels = [...b.own];
  const overlays: string[] = [];
  spec.overlays.forEach((frags, i) => {
    const r = new Renderer(`O${i}_`, labels);
    let text = '/dts-v1/;\n/plugin/;\n';
    for (const f of frags) for (const [, c] of f.body.children) r.assign(c, '-');
    for (const f of frags) {
      const target = f.byPath || labels.length === 0 ? `&{${b.paths[f.target % b.paths.length]}}` : `&${labels[f.target % labels.length]}`;
      text += `${target} {\n${r.body(f.body, '\t')}};\n`;
    }
    overlays.push(text);
    labels.push(...r.own);
  });
  return { base, overlays };
}

const compile = (text: string): Uint8Array => encodeFdt(compileDts({ name: 'gen.dts', text }, { symbols: true, onWarning: () => {} }));

describe('fdt overlay vs fdtoverlay 1.6.1', { skip: skipUnless('fdtoverlay') }, () => {
  let tmp = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'imgkit-fdtoverlay-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** fdtoverlay's output, or its stderr when it fails (bounded in time and memory: it loops on some inputs). */
  function fdtoverlay(base: Uint8Array, ovs: Uint8Array[]): { out?: Uint8Array; err: string } {
    writeFileSync(join(tmp, 'base.dtb'), base);
    ovs.forEach((o, i) => writeFileSync(join(tmp, `ov${i}.dtbo`), o));
    rmSync(join(tmp, 'out.dtb'), { force: true });
    const r = spawnSync('sh', ['-c', 'ulimit -v 1000000; exec fdtoverlay -i base.dtb -o out.dtb "$@"', 'sh', ...ovs.map((_, i) => `ov${i}.dtbo`)], { cwd: tmp, timeout: 5000 });
    const err = `${r.stderr?.toString() ?? ''}${r.signal ? ` (signal ${r.signal})` : ''}`;
    return r.status === 0 ? { out: new Uint8Array(readFileSync(join(tmp, 'out.dtb'))), err } : { err: err || `exit ${r.status}` };
  }
  function ours(base: Uint8Array, ovs: Uint8Array[]): { out?: Uint8Array; err?: FormatError } {
    try {
      return { out: applyOverlays(base, ovs) };
    } catch (e) {
      if (e instanceof FormatError) return { err: e };
      throw e;
    }
  }
  /** Same bytes, or both fail with the same FDT_ERR name. Returns whether an output was compared. */
  function same(base: Uint8Array, ovs: Uint8Array[]): boolean {
    const ref = fdtoverlay(base, ovs), got = ours(base, ovs);
    if (ref.out) {
      assert.ok(got.out, `fdtoverlay succeeded, we failed: ${got.err?.message}`);
      assert.deepEqual(got.out, ref.out);
      return true;
    }
    assert.ok(got.err, `fdtoverlay failed (${ref.err.trim()}), we succeeded`);
    const name = /FDT_ERR_\w+/.exec(ref.err)?.[0];
    if (name && !/Failed to make temporary copy/.test(ref.err)) assert.match(got.err.message, new RegExp(name), ref.err);
    return false;
  }

  it('fixtures: every golden sequence, and every fixture overlay on every base option dtc offers', () => {
    for (const [, base, ovs] of GOLDEN) assert.ok(same(fx(base), ovs.map(fx)));
    const src = readFileSync(join(dir, 'base.dts'), 'latin1');
    for (const opts of [['-p', '100'], ['-V', '16'], ['-R', '2'], ['-S', '8192'], ['-a', '64'], ['-H', 'both'], ['-H', 'legacy'], ['-s']]) {
      const r = spawnSync('dtc', ['-q', '-@', ...opts, '-'], { input: src });
      if (r.status !== 0) continue; // dtc missing: covered by the skip of the other suites
      assert.ok(same(new Uint8Array(r.stdout), ['ov-basic.dtbo', 'ov-local.dtbo', 'ov-seq.dtbo', 'ov-explicit.dtbo'].map(fx)), opts.join(' '));
    }
  });

  it('bad/ overlays: fdtoverlay fails too, with the FDT_ERR name we report', () => {
    for (const f of BAD) {
      const ref = fdtoverlay(fx('base.dtb'), [fx(join('bad', f))]);
      assert.equal(ref.out, undefined, f);
      const err = fdtoverlayErr(f);
      if (err) assert.match(ref.err, new RegExp(err), f);
    }
  });

  it('a missing label: exit 1, the FDT_ERR name, no output file (CLI)', () => {
    const out = join(tmp, 'cli-out.dtb');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/fdt.ts'), 'overlay', join(dir, 'base.dtb'), join(dir, 'bad/BAD_FIELD--missing-label.dtbo'), '-o', out], { cwd: root });
    assert.equal(r.status, 1);
    assert.match(r.stderr.toString(), /Cannot apply overlay '.*BAD_FIELD--missing-label.dtbo': label "nolabel" .*\(FDT_ERR_NOTFOUND\)/);
    assert.equal(existsSync(out), false);
    const ok = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/fdt.ts'), 'overlay', join(dir, 'base.dtb'), ...['ov-basic', 'ov-local', 'ov-seq'].map((n) => join(dir, `${n}.dtbo`)), '-o', out], { cwd: root });
    assert.equal(ok.status, 0, ok.stderr.toString());
    assert.deepEqual(new Uint8Array(readFileSync(out)), fx('out-seq.dtb'));
  });

  it('growth past 64 KiB: fdtoverlay retries with a bigger buffer, the failed attempt\'s bytes stay in it', () => {
    const big = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);
    const ov = (props: FdtNode['props'], path = '/') => blob(fdtNode('', [], [frag('fragment@0', [{ name: 'target-path', value: str(path) }], fdtNode('__overlay__', props, [fdtNode('n', [{ name: 'c', value: propValue.cells(1, 2, 3) }])]))]));
    const empty = blob(fdtNode(''));
    assert.ok(same(empty, [ov([{ name: 'a', value: big(100_000, 1) }, { name: 'b', value: str('x') }])]));
    assert.ok(same(empty, [ov([{ name: 'a', value: big(100_000, 1) }]), ov([{ name: 'a', value: str('shorter') }, { name: 'z', value: big(150_000, 7) }])]));
    assert.ok(same(fx('base.dtb'), [ov([{ name: 'big', value: big(70_000, 3) }], '/soc/uart@200'), fx('ov-basic.dtbo'), ov([{ name: 'big', value: big(5, 3) }], '/soc/uart@200')]));
  });

  it('structure-aware hostile overlays that we apply, fdtoverlay applies to the same bytes', (t) => {
    let compared = 0;
    fc.assert(fc.property(hostileOverlay, (m) => {
      const ov = blob(m);
      const got = ours(fx('base.dtb'), [ov]);
      if (!got.out) return; // fdtoverlay may crash or loop on what we refuse: see bad/
      const ref = fdtoverlay(fx('base.dtb'), [ov]);
      assert.ok(ref.out, ref.err);
      assert.deepEqual(got.out, ref.out);
      compared++;
    }), { seed: SEED, numRuns: 300 });
    t.diagnostic(`${compared} of 300 hostile overlays applied, all byte-identical to fdtoverlay`);
    assert.ok(compared >= 25, `only ${compared} applied`);
  });

  it('generated bases and overlay sequences (fast-check, fixed seed) are byte-identical', (t) => {
    let identical = 0, failedBoth = 0, runs = 0;
    fc.assert(fc.property(sequence, (spec) => {
      runs++;
      const { base, overlays } = renderSequence(spec);
      if (same(compile(base), overlays.map(compile))) identical++;
      else failedBoth++;
    }), { seed: SEED, numRuns: 250 });
    t.diagnostic(`${identical} of ${runs} generated sequences byte-identical, ${failedBoth} refused by both with the same FDT_ERR`);
    assert.ok(identical > runs * 0.8, `${identical}/${runs}`);
  });

  it('Linux 6.1: every base + overlay pair its Makefiles list (`*-dtbs := base.dtb ov.dtbo`)', { skip: existsSync(join(CORPUS_CACHE, '.complete')) ? false : `no extracted corpus in ${CORPUS_CACHE} (corpus.test.ts makes it)` }, (t) => {
    const tree = linuxTree()!;
    const inc = join(tree, 'scripts/dtc/include-prefixes');
    const pairs: [string, string, string][] = [];
    for (const arch of ['arm', 'arm64']) {
      const base = join(tree, 'arch', arch, 'boot/dts');
      for (const vendor of readdirSync(base)) {
        const mk = join(base, vendor, 'Makefile');
        if (!existsSync(mk)) continue;
        for (const m of readFileSync(mk, 'latin1').matchAll(/^\S+-dtbs\s*:=\s*(\S+)\.dtb\s+(\S+)\.dtbo\s*$/gm)) pairs.push([join(base, vendor), m[1]!, m[2]!]);
      }
    }
    const cache = new Map();
    const build = (d: string, name: string, symbols: boolean) => {
      const path = join(d, `${name}.dts`);
      const text = preprocess(path, { includeDirs: [inc], defines: ['__DTS__'], cache });
      return encodeFdt(compileDts({ name: path, text }, { bootCpuid: 0, symbols, onWarning: () => {}, ...fileAccessFor([dirname(path), inc]) }));
    };
    let identical = 0;
    for (const [d, base, ov] of pairs) if (same(build(d, base, true), [build(d, ov, false)])) identical++;
    t.diagnostic(`${identical} of ${pairs.length} kernel base + overlay pairs byte-identical`);
    assert.ok(pairs.length >= 10);
    assert.equal(identical, pairs.length);
  });
});
