/**
 * Hostile device trees: what used to overflow the stack, throw a RangeError or run in quadratic time.
 * Each input is built here; where dtc or fdtdump accepts it, our output is compared with theirs.
 * The sizes are large enough that the old quadratic code took tens of seconds (no timing is asserted).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compileDts, CppError, DtsError, decodeFdt, encodeFdt, preprocess, StringTable, TokenCache } from '../../src/dtb/index.js';
import { run, skipUnless } from './helpers.js';
import { ensureBuilt, root, tempDir } from '../helpers.js';

const fdt = join(root, 'bin/fdt');
let tmp = '';

before(() => {
  ensureBuilt('dist/cli/fdt.js');
  tmp = tempDir('imgkit-fdt-limits-');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A v17 blob around a structure block and strings, laid out as dtc does. */
function blob(struct: number[] | Uint8Array, strings = new Uint8Array()): Uint8Array {
  const s = Uint8Array.from(struct);
  const offStruct = 40 + 16, offStrings = offStruct + s.length, total = offStrings + strings.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  [0xd00dfeed, total, offStruct, offStrings, 40, 17, 16, 0, strings.length, s.length].forEach((v, i) => dv.setUint32(i * 4, v));
  out.set(s, offStruct);
  out.set(strings, offStrings);
  return out;
}
const u32 = (...v: number[]): number[] => v.flatMap((x) => [x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff]);
const cstr = (b: Uint8Array | string): number[] => {
  const bytes = typeof b === 'string' ? [...Buffer.from(b, 'latin1')] : [...b];
  const n = bytes.length + 1;
  return [...bytes, ...new Array(n + ((4 - (n % 4)) % 4) - bytes.length).fill(0)];
};
const write = (name: string, data: Uint8Array | string): string => {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
};

describe('fdt dump and get on odd blobs', () => {
  it('every command has --help (exit 0); an unknown option is a usage mistake (exit 2, was 1)', () => {
    for (const cmd of ['compile', 'decompile', 'dump', 'get', 'set', 'batch', 'overlay']) {
      const h = run(fdt, [cmd, '--help']);
      assert.equal(h.code, 0, `${cmd}: ${h.err}`);
      assert.match(h.out.toString(), new RegExp(`^Usage: fdt ${cmd} `), cmd);
      const r = run(fdt, [cmd, '--bogus', 'x.dtb']);
      assert.equal(r.code, 2, `${cmd}: ${r.err}`);
      assert.match(r.err, /Unknown option '--bogus'[^]*Try 'fdt --help'/, cmd);
    }
  });

  it('END_NODE before any BEGIN_NODE prints as fdtdump prints it (was a RangeError)', { skip: skipUnless('fdtdump') }, () => {
    const f = write('endfirst.dtb', blob([...u32(2, 1), ...cstr(''), ...u32(2, 9)]));
    const ours = run(fdt, ['dump', f]);
    assert.equal(ours.code, 0, ours.err);
    assert.equal(ours.out.toString('latin1'), run('fdtdump', [f]).out.toString('latin1'));
  });

  it('a 300 KB node name and string value dump and get without a stack overflow', { skip: skipUnless('fdtdump', 'fdtget') }, () => {
    const big = 'n'.repeat(300_000), val = 'v'.repeat(300_000);
    const f = write('big.dtb', blob([...u32(1), ...cstr(''), ...u32(3, val.length + 1, 0), ...cstr(val), ...u32(1), ...cstr(big), ...u32(2, 2, 9)], Uint8Array.from(cstr('big').slice(0, 4))));
    const dump = run(fdt, ['dump', f]);
    assert.equal(dump.code, 0, dump.err);
    assert.equal(dump.out.toString('latin1'), run('fdtdump', [f]).out.toString('latin1'));
    const get = run(fdt, ['get', f, '/', 'big']);
    assert.equal(get.code, 0, get.err);
    assert.equal(get.out.toString('latin1'), run('fdtget', [f, '/', 'big']).out.toString('latin1'));
  });

  it('compile -I dtb of a blob the checks refuse: dtc\'s message, exit 1, no output (was exit 70)', { skip: skipUnless('dtc') }, () => {
    const ph = u32(3, 4, 0, 1);
    const f = write('dupph.dtb', blob([...u32(1), ...cstr(''), ...u32(1), ...cstr('a'), ...ph, ...u32(2, 1), ...cstr('b'), ...ph, ...u32(2, 2, 9)], Uint8Array.from(cstr('phandle'))));
    const out = join(tmp, 'dupph.out.dtb');
    const ours = run(fdt, ['compile', '-I', 'dtb', '-O', 'dtb', '-o', out, f]);
    const ref = run('dtc', ['-I', 'dtb', '-O', 'dtb', '-o', out, f]);
    assert.equal(ours.code, 1);
    assert.equal(ours.err, ref.err);
    assert.ok(!existsSync(out));
  });
});

describe('DTS nesting is bounded with a clear error', () => {
  const compile = (text: string): Uint8Array => encodeFdt(compileDts({ name: 'x.dts', text }));
  const refuses = (text: string, what: RegExp): void => {
    assert.throws(() => compile(text), (e: unknown) => e instanceof DtsError && what.test(e.stderr) && /Unable to parse input tree/.test(e.stderr));
  };
  const nested = (n: number): string => `/dts-v1/; / { ${'n { '.repeat(n - 1)}${'}; '.repeat(n - 1)}};`;

  it('256 levels of nodes compile as dtc compiles them; 257 are refused', { skip: skipUnless('dtc') }, () => {
    const f = write('deep.dts', nested(256));
    assert.deepEqual(Buffer.from(compile(readFileSync(f, 'latin1'))), run('dtc', ['-q', f]).out);
    assert.equal(decodeFdt(compile(nested(256))).root.children.length, 1);
    refuses(nested(257), /nodes nested more than 256 deep/);
    refuses(nested(3000), /nodes nested more than 256 deep/);
  });

  it('merges that stack definitions deeper than 256 levels are refused', () => {
    const inner = (n: number, label: string): string => `${'n { '.repeat(n - 1)}${label}: n { }; ${'}; '.repeat(n - 1)}`;
    // each override adds 100 levels under the label the previous one made
    let text = `/dts-v1/; / { ${inner(100, 'l0')} };\n`;
    text += `&l0 { ${inner(100, 'l1')} };\n`;
    assert.doesNotThrow(() => compile(text));
    refuses(text + `&l1 { ${inner(100, 'l2')} };\n`, /nodes nested more than 256 deep/);
    refuses(text + Array.from({ length: 100 }, (_, i) => `&l${i + 1} { ${inner(100, `l${i + 2}`)} };\n`).join(''), /nodes nested more than 256 deep/);
  });

  it('expressions nest 256 levels; deeper ones are refused, as dtc refuses 10000 unary minus', { skip: skipUnless('dtc') }, () => {
    const parens = (n: number): string => `/dts-v1/; / { a = <${'('.repeat(n)}1${')'.repeat(n)}>; };`;
    const f = write('parens.dts', parens(255));
    assert.deepEqual(Buffer.from(compile(readFileSync(f, 'latin1'))), run('dtc', ['-q', f]).out);
    refuses(parens(300), /expression nested more than 256 deep/);
    refuses(`/dts-v1/; / { a = <(${'-'.repeat(10000)}1)>; };`, /expression nested more than 256 deep/);
    refuses(`/dts-v1/; / { a = <(${'1 ? 2 : '.repeat(1000)}3)>; };`, /expression nested more than 256 deep/);
    // both at their deepest at once
    assert.doesNotThrow(() => compile(`/dts-v1/; / { ${'n { '.repeat(254)}a = <${'('.repeat(255)}1${')'.repeat(255)}>; ${'}; '.repeat(254)}};`));
  });

  it('/include/: 200 files in all, as dtc counts them (include fan-out stops at once)', { skip: skipUnless('dtc') }, () => {
    const d = join(tmp, 'inc');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'e.dtsi'), '/ { };\n');
    for (const n of [199, 200]) {
      writeFileSync(join(d, `t${n}.dts`), `/dts-v1/;\n/ { };\n${'/include/ "e.dtsi"\n'.repeat(n)}`);
      const ours = run(fdt, ['compile', '-o', '/dev/null', `t${n}.dts`], { cwd: d });
      const ref = run('dtc', ['-o', '/dev/null', `t${n}.dts`], { cwd: d });
      assert.equal(ours.code === 0, ref.code === 0, `${n}: ${ours.err}`);
      assert.equal(ours.err, ref.err);
    }
    // each file includes the next twice: 2^24 inclusions, or 200 for dtc
    for (let i = 0; i < 24; i++) writeFileSync(join(d, `f${i}.dtsi`), i < 23 ? `/include/ "f${i + 1}.dtsi"\n/include/ "f${i + 1}.dtsi"\n` : '/ { };\n');
    writeFileSync(join(d, 'fan.dts'), '/dts-v1/;\n/ { };\n/include/ "f0.dtsi"\n');
    const ours = run(fdt, ['compile', '-o', '/dev/null', 'fan.dts'], { cwd: d });
    assert.equal(ours.code, 1);
    assert.equal(ours.err, run('dtc', ['-o', '/dev/null', 'fan.dts'], { cwd: d }).err);
  });
});

describe('long and deep inputs that dtc and cpp accept', () => {
  const same = (name: string, text: string, args: string[] = []): void => {
    const f = write(name, text);
    // dtc reads cpp's output: for a source with a #define line, the same text without it
    const ref = run('dtc', [...args, write(`ref-${name}`, text.replace(/^#define .*\n/gm, ''))]);
    assert.equal(ref.code, 0, ref.err);
    const cppArgs = /^#define/m.test(text) ? ['--cpp'] : [];
    const ours = run(fdt, ['compile', ...cppArgs, ...args, f]);
    assert.equal(ours.code, 0, ours.err);
    assert.ok(ours.out.equals(ref.out), name);
  };
  it('131 K tokens from one macro argument, a 200 K-token line, a 200 K-character path reference (spreads overflowed the stack)', { skip: skipUnless('dtc', 'cpp') }, () => {
    const defs = Array.from({ length: 17 }, (_, i) => `#define A${i + 1} A${i} A${i}\n`).join('');
    const expanded = (n: number): string => Array(2 ** n).fill('1').join(' ');
    // dtc reads cpp's output; ours preprocesses itself
    const f = write('spread.dts', `/dts-v1/;\n#define A0 1\n${defs}#define F(x) x\n/ { p = <F(A17)>; };\n`);
    const ours = run(fdt, ['compile', '--cpp', f]);
    assert.equal(ours.code, 0, ours.err);
    assert.ok(ours.out.equals(run('dtc', [write('spread.ref.dts', `/dts-v1/;\n/ { p = <${expanded(17)}>; };\n`)]).out));
    // (the #define makes ours run its preprocessor, which took the line as one spread)
    same('longline.dts', `/dts-v1/;\n#define X 1\n/ { p = <${'1 '.repeat(200_000)}>; };\n`);
    same('longpath.dts', `/dts-v1/;\n/ { q = &a; a: ${'n'.repeat(200_000)} { }; };\n`);
  });

  it('256 levels with an /omit-if-no-ref/ or a /delete-node/ at the bottom are within the bound; 5000 /omit-if-no-ref/ in a row (dtc\'s bytes)', { skip: skipUnless('dtc') }, () => {
    const open = 'n { '.repeat(254), close = '}; '.repeat(254);
    same('omit256.dts', `/dts-v1/;\n/ { x = <&a>; ${open}a: /omit-if-no-ref/ m { }; ${close}};\n`);
    same('omit5000.dts', `/dts-v1/;\n/ { x = <&b>; a: ${'/omit-if-no-ref/ '.repeat(5000)}b: n { }; m { }; };\n`);
    // m is at level 256; the /delete-node/ in the override adds no level
    same('del256.dts', `/dts-v1/;\n/ { ${open}l: m { }; ${close}};\n&l { y; /delete-node/ x; };\n`);
  });

  it('-@ with a labelled __symbols__ node and a label named phandle warns as dtc does', { skip: skipUnless('dtc') }, () => {
    const f = write('symph.dts', '/dts-v1/; / { s: __symbols__ { }; phandle: foo { }; };\n');
    const ours = run(fdt, ['compile', '-@', f]), ref = run('dtc', ['-@', f]);
    // dtc prints this warning without a line ending; ours ends the line
    assert.equal(ours.err, `${ref.err}\n`);
    assert.ok(ours.out.equals(ref.out));
  });

  it('fdt dump streams what fdtdump prints for 20000 END_NODEs (800 MB, past the longest string)', { skip: skipUnless('fdtdump') }, () => {
    const f = write('ends.dtb', blob([...u32(...new Array(20000).fill(2)), ...u32(9)]));
    const digest = (cmd: string): string => execFileSync('sh', ['-c', `${cmd} ${f} 2>/dev/null | md5sum`], { encoding: 'utf8' });
    assert.equal(digest(fdt + ' dump'), digest('fdtdump'));
  });
});

describe('found by differential fuzzing against dtc, fdtdump and fdtget', () => {
  const both = (name: string, text: string, args: string[] = []): void => {
    const f = write(name, text);
    const ours = run(fdt, ['compile', '--no-cpp', ...args, f]), ref = run('dtc', [...args, f]);
    assert.equal(ours.err, ref.err, text);
    assert.equal(ours.code === 0, ref.code === 0, text);
    assert.ok(ours.out.equals(ref.out), text);
  };
  it('integer literals longer than 64 characters; char literals by flex\'s longest match', { skip: skipUnless('dtc') }, () => {
    both('lit1.dts', `/dts-v1/;\n/ { a = <${'0'.repeat(64)}1 0x${'0'.repeat(70)}2>; };\n`);
    both('lit2.dts', "/dts-v1/;\n/ { a = <'\\''>; };\n");
    both('lit3.dts', "/dts-v1/;\n/ { a = <'\\\\'>; b = <'a'>; };\n");
    both('lit4.dts', "/dts-v1/;\n/ { a = <'\\'' 'b'>; };\n");
  });
  it('paths with empty components are not found, as in dtc; a trailing slash is', { skip: skipUnless('dtc') }, () => {
    both('path1.dts', '/dts-v1/;\n/ { c { }; };\n&{//} { x; };\n');
    both('path2.dts', '/dts-v1/;\n/ { c { d { }; }; a = <&{/c//d}>; };\n');
    both('path3.dts', '/dts-v1/;\n/ { c { d { }; }; a = &{/c/d/}; };\n&{/c/} { y; };\n');
  });
  it('/incbin/ of a device (dtc opens anything but a folder)', { skip: skipUnless('dtc') }, () => {
    both('incbin-dev.dts', '/dts-v1/;\n/ { a = /incbin/("/dev/null"); };\n');
  });
  it('-I dtb: a memreserve entry of size 0 ends the list; versions past 17 that say they read as 17', { skip: skipUnless('dtc') }, () => {
    const src = write('rsv.dts', '/dts-v1/;\n/memreserve/ 0x1000 0x10;\n/ { };\n');
    const dtb = Buffer.from(run('dtc', ['-R', '1', src]).out);
    dtb[56 + 16 + 7] = 1; // the terminator's address: 1, its size still 0
    const f = write('rsv.dtb', dtb);
    assert.ok(run(fdt, ['compile', '-I', 'dtb', '-O', 'dtb', f]).out.equals(run('dtc', ['-I', 'dtb', '-O', 'dtb', f]).out));
    // (our DTS text is not dtc's: compare the reservations it lists)
    const rsv = (out: Buffer): string[] => out.toString('latin1').match(/\/memreserve\/.*/g) ?? [];
    assert.deepEqual(rsv(run(fdt, ['compile', '-I', 'dtb', '-O', 'dts', f]).out).length, rsv(run('dtc', ['-I', 'dtb', '-O', 'dts', f]).out).length);
    const v18 = Buffer.from(dtb);
    v18.writeUInt32BE(18, 20);
    const g = write('v18.dtb', v18);
    const ours = run(fdt, ['compile', '-I', 'dtb', '-O', 'dtb', g]);
    assert.equal(ours.code, 0, ours.err);
    assert.ok(ours.out.equals(run('dtc', ['-I', 'dtb', '-O', 'dtb', g]).out));
  });
  it('bytes above 0x7f in names and strings go out as bytes (were UTF-8)', { skip: skipUnless('fdtdump', 'fdtget') }, () => {
    const f = write('high.dtb', blob([...u32(1), ...cstr(''), ...u32(3, 3, 0), 0xe9, 0x62, 0, 0, ...u32(1), ...cstr(Uint8Array.of(0xe9, 0x62)), ...u32(2, 2, 9)], Uint8Array.from(cstr('s'))));
    assert.ok(run(fdt, ['dump', f]).out.equals(run('fdtdump', [f]).out));
    assert.ok(run(fdt, ['get', '-t', 's', f, '/', 's']).out.equals(run('fdtget', ['-t', 's', f, '/', 's']).out));
    assert.ok(run(fdt, ['get', '-l', f, '/']).out.equals(run('fdtget', ['-l', f, '/']).out));
    assert.ok(run(fdt, ['decompile', f]).out.includes(Buffer.from([0xe9, 0x62])));
  });
});

describe('DTS checks stay linear on wide trees', () => {
  it('6000 labelled properties, 3000 labelled nodes, references and overrides: dtc\'s bytes', { skip: skipUnless('dtc') }, () => {
    const props = Array.from({ length: 6000 }, (_, i) => `l${i}: p${i} = <${i}>;`).join(' ');
    const nodes = Array.from({ length: 3000 }, (_, i) => `m${i}: n${i} { };`).join(' ');
    const refs = Array.from({ length: 3000 }, (_, i) => `&m${i}`).join(' ');
    const overrides = Array.from({ length: 3000 }, (_, i) => `&m${i} { x; };`).join('\n');
    const f = write('wide.dts', `/dts-v1/; / { r = <${refs}>; s = &m1, &m2999; n5 = <1>; ${props} ${nodes} };\n${overrides}\n`);
    const ref = run('dtc', ['-q', '-@', f]);
    assert.equal(ref.code, 0, ref.err);
    const ours = run(fdt, ['compile', '-q', '-@', f]);
    assert.equal(ours.code, 0, ours.err);
    assert.ok(ours.out.equals(ref.out));
  });

  it('duplicate labels and names are found as dtc finds them', { skip: skipUnless('dtc') }, () => {
    const f = write('dups.dts', `/dts-v1/; / { a: p = <1>; q = <2>; p = <3>; n { }; b: m { }; n { }; c: x = <a: 1>; y = <b: 2>; n { }; };\n`);
    const ours = run(fdt, ['compile', '-o', '/dev/null', f]);
    const ref = run('dtc', ['-o', '/dev/null', f]);
    assert.equal(ours.code, 1);
    assert.equal(ours.err, ref.err);
    const g = write('duplabels.dts', `/dts-v1/; / { a: p = <1>; q = <a: 2>; b: n { }; m { x = [b: 01]; }; };\n`);
    assert.equal(run(fdt, ['compile', '-o', '/dev/null', g]).err, run('dtc', ['-o', '/dev/null', g]).err);
  });

  it('labels found through the parser\'s index: merged, deleted, duplicated and revived, as dtc finds them', { skip: skipUnless('dtc') }, () => {
    const cases = [
      '/ { a: n { }; }; / { n { b: m { }; }; }; &b { x; }; l2: &a { }; &l2 { y; };',
      '/ { n { }; }; / { n { c: k { }; }; }; &c { z; };',
      '/ { n { k { }; }; }; / { n { d: k { }; }; }; &d { w; };',
      '/ { a: n1 { }; a: n2 { }; }; &a { x; };',
      '/ { n1 { a: k { }; }; a: n2 { }; }; &a { x; };',
      '/ { n1 { }; a: n2 { }; }; / { a: n1 { }; }; &a { x; };',
      '/ { n1 { k { }; }; a: n2 { }; }; / { n1 { a: k { }; }; }; &a { x; }; /delete-node/ &a; &a { y; };',
      '/ { a: n { }; }; /delete-node/ &a; &a { x; };',
      '/ { a: n { }; }; /delete-node/ &a; / { a: n { }; }; &a { x; };',
      '/ { p { a: n { }; }; }; /delete-node/ &{/p}; / { q { a: m { }; }; }; &a { x; };',
      '/ { p { a: n { }; }; }; /delete-node/ &{/p}; / { p { }; }; &a { x; };',
      '/ { a: n { b: m { }; }; }; &a { /delete-node/ m; }; &b { x; };',
      '/ { n { }; }; x: &{/n} { }; &x { y; }; /delete-node/ &x; / { n { }; }; &x { z; };',
    ];
    cases.forEach((c, i) => {
      const f = write(`labels${i}.dts`, `/dts-v1/;\n${c}\n`);
      for (const force of [[], ['-f']]) {
        const ours = run(fdt, ['compile', ...force, f]);
        const ref = run('dtc', [...force, f]);
        assert.equal(ours.err, ref.err, `${c} ${force.join(' ')}`);
        assert.equal(ours.code === 0, ref.code === 0, c);
        assert.ok(ours.out.equals(ref.out), `${c} ${force.join(' ')}`);
      }
    });
  });

  it('random merges, deletions and labels: dtc\'s bytes and messages (property)', { skip: skipUnless('dtc') }, () => {
    const label = fc.constantFrom('a', 'b', 'c');
    const name = fc.constantFrom('n1', 'n2', 'k');
    const prop = fc.oneof(fc.constant('x;'), fc.constant('y = <1>;'), label.map((l) => `r = <&${l}>;`), fc.constant('/delete-property/ x;'));
    const body: fc.Memo<string> = fc.memo((d) => fc.tuple(
      fc.array(prop, { maxLength: 2 }),
      d <= 1 ? fc.constant([] as string[]) : fc.array(fc.oneof(
        fc.tuple(fc.option(label, { nil: undefined }), name, body(d - 1)).map(([l, n, b]) => `${l ? `${l}: ` : ''}${n} { ${b} };`),
        name.map((n) => `/delete-node/ ${n};`),
      ), { maxLength: 3 }),
    ).map(([ps, ns]) => [...ps, ...ns].join(' ')));
    const stmt = fc.oneof(
      body(3).map((b) => `/ { ${b} };`),
      fc.tuple(label, body(2)).map(([l, b]) => `&${l} { ${b} };`),
      fc.tuple(label, label, body(2)).map(([l, m, b]) => `${m}: &${l} { ${b} };`),
      label.map((l) => `/delete-node/ &${l};`),
      fc.tuple(name, body(2)).map(([n, b]) => `&{/${n}} { ${b} };`),
    );
    let i = 0;
    fc.assert(fc.property(body(3), fc.array(stmt, { maxLength: 5 }), (first, rest) => {
      const src = `/dts-v1/;\n/ { ${first} };\n${rest.join('\n')}\n`;
      const f = write(`random${i++ % 4}.dts`, src);
      const ours = run(fdt, ['compile', '-f', f]);
      const ref = run('dtc', ['-f', f]);
      assert.equal(ours.err, ref.err, src);
      assert.equal(ours.code === 0, ref.code === 0, src);
      assert.ok(ours.out.equals(ref.out), src);
    }), { numRuns: 150 });
  });

  it('30000 dangling references fail with dtc\'s first 10000 messages, then a note', { skip: skipUnless('dtc') }, () => {
    const f = write('dangling.dts', `/dts-v1/; / { a = <${Array.from({ length: 30000 }, (_, i) => `&x${i}`).join(' ')}>; };\n`);
    const ours = run(fdt, ['compile', '-o', '/dev/null', f]);
    const ref = run('dtc', ['-o', '/dev/null', f]);
    assert.equal(ours.code, 1);
    const oursLines = ours.err.split('\n'), refLines = ref.err.split('\n');
    // each message is two lines (dtc's text ends in a newline of its own)
    assert.deepEqual(oursLines.slice(0, 20000), refLines.slice(0, 20000));
    assert.equal(oursLines[20000], '(more than 10000 messages or 4194304 characters: the rest are not shown)');
    assert.equal(oursLines.at(-2), refLines.at(-2));
  });

  it('a node named in each of 6000 messages with 6000 "also defined at" lines: 4 MiB of messages, not 36 million lines', () => {
    const labels = Array.from({ length: 6000 }, (_, i) => `l${i}:`).join(' ');
    const text = `/dts-v1/; / { ${labels} n { }; ${labels} m { }; };\n${'&{/m} { };\n'.repeat(6000)}`;
    assert.throws(() => compileDts({ name: 'x.dts', text }), (e: unknown) => e instanceof DtsError && e.stderr.length < 4.5 * 1024 * 1024
      && /\(more than 10000 messages or 4194304 characters: the rest are not shown\)\nERROR: Input tree has errors/.test(e.stderr));
    // with -q -q nothing is shown, and the checks still stop early
    assert.throws(() => compileDts({ name: 'x.dts', text: `/dts-v1/; / { ${'n { }; '.repeat(9000)}};` }, { quiet: 2 }), (e: unknown) => e instanceof DtsError && e.stderr === 'ERROR: Input tree has errors, aborting (use -f to force output)\n');
  });

  it('9000 nodes of one name: 10000 messages, not 40 million', () => {
    const text = `/dts-v1/; / { ${'n { }; '.repeat(9000)}};`;
    assert.throws(() => compileDts({ name: 'x.dts', text }), (e: unknown) => e instanceof DtsError && e.stderr.split('\n').length === 10003 && /ERROR \(duplicate_node_names\): \/n: Duplicate node name/.test(e.stderr));
  });
});

describe('strings table', () => {
  /** dtc's stringtable_insert: the first offset where name + NUL occurs, else appended. */
  class Naive {
    table = '';
    constructor(initial: string) {
      this.table = initial;
    }
    insert(name: string): number {
      const at = this.table.indexOf(name + '\0');
      if (at >= 0) return at;
      this.table += name + '\0';
      return this.table.length - name.length - 1;
    }
  }
  it('gives dtc\'s offsets (suffix reuse, long names, an unterminated initial table)', () => {
    const name = fc.oneof(fc.stringMatching(/^[ab,]{0,6}$/), fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 60, maxLength: 70 }));
    fc.assert(fc.property(fc.array(name, { maxLength: 8 }).map((a) => a.join('\0')), fc.array(name, { maxLength: 60 }), (initial, names) => {
      const ours = new StringTable(initial), ref = new Naive(initial);
      for (const n of names) assert.equal(ours.insert(n), ref.insert(n), JSON.stringify({ initial, names, n }));
      assert.equal(ours.table, ref.table);
    }), { numRuns: 2000 });
  });

  it('fdt set on a node of 50000 properties gives the tree fdtput gives', { skip: skipUnless('fdtput') }, () => {
    const names = Array.from({ length: 50000 }, (_, i) => `prop${i}`);
    const strings = Uint8Array.from(names.flatMap((n) => [...Buffer.from(n), 0]));
    let off = 0;
    const props = names.flatMap((n, i) => {
      const p = u32(3, 4, off, i);
      off += n.length + 1;
      return p;
    });
    const src = blob([...u32(1), ...cstr(''), ...props, ...u32(2, 9)], strings);
    const a = write('wide-a.dtb', src), b = write('wide-b.dtb', src);
    assert.equal(run(fdt, ['set', a, '/', 'newprop', '7']).code, 0);
    assert.equal(run('fdtput', [b, '/', 'newprop', '7']).code, 0);
    assert.deepEqual(decodeFdt(readFileSync(a)).root, decodeFdt(readFileSync(b)).root);
  });
});

describe('cpp token cache', () => {
  const files = (m: Record<string, string>) => ({ readFile: (p: string) => m[p] ?? '', exists: (p: string) => p in m });
  it('runs that share it give the same text and leave its tokens as read (no hide set from a paste); it keeps the files used last', () => {
    const m = {
      '/a.dts': '#include "cat.h"\n#include "use.h"\n',
      '/cat.h': '#define CAT(a, b) a ## b\n#define K(a, b) a ## b\n',
      '/use.h': 'x = CAT(p, q CAT r); y = K(s CAT, t u);\n',
      '/b.dts': '#include "cat.h"\n#include "use.h"\n#include "use.h"\n',
    };
    const cache = new TokenCache(8);
    const a1 = preprocess('/a.dts', { ...files(m), cache });
    const b1 = preprocess('/b.dts', { ...files(m), cache });
    assert.match(a1, /x = pq CAT r; y = s CATt u;/);
    assert.equal(preprocess('/a.dts', { ...files(m), cache }), a1);
    assert.equal(preprocess('/b.dts', files(m)), b1);
    for (const lines of cache.values()) for (const l of lines) for (const t of l.toks) assert.equal(t.hide, undefined, `${t.t} in the cache has a hide set`);
    const small = new TokenCache(2);
    preprocess('/b.dts', { ...files(m), cache: small });
    assert.deepEqual([...small.keys()], ['/cat.h', '/use.h']); // /b.dts, read first, went when /use.h came
  });
});

describe('cpp bounds', () => {
  const files = (m: Record<string, string>) => ({ readFile: (p: string) => m[p] ?? '', exists: (p: string) => p in m });
  it('include fan-out without guards stops with a CppError', () => {
    const m: Record<string, string> = { '/t.dts': '#include "f0.h"\n' };
    for (let i = 0; i < 30; i++) m[`/f${i}.h`] = i < 29 ? `#include "f${i + 1}.h"\n#include "f${i + 1}.h"\n` : 'x\n';
    assert.throws(() => preprocess('/t.dts', files(m)), (e: unknown) => e instanceof CppError && /more than 10000 #include directives/.test(e.message));
  });
  it('exponential macros stop with a CppError', () => {
    let src = '#define A0 x\n';
    for (let i = 1; i < 40; i++) src += `#define A${i} A${i - 1} A${i - 1}\n`;
    assert.throws(() => preprocess('/t.dts', files({ '/t.dts': `${src}A39\n` })), (e: unknown) => e instanceof CppError && /tokens through macro expansion/.test(e.message));
  });
  it('deep #if expressions and nested macro arguments stop with a CppError', () => {
    const deepIf = `#if ${'('.repeat(5000)}1${')'.repeat(5000)}\n#endif\n`;
    assert.throws(() => preprocess('/t.dts', files({ '/t.dts': deepIf })), (e: unknown) => e instanceof CppError && /nested more than 256 deep/.test(e.message));
    const unary = `#if ${'-'.repeat(5000)}1\n#endif\n`;
    assert.throws(() => preprocess('/t.dts', files({ '/t.dts': unary })), (e: unknown) => e instanceof CppError);
    const args = `#define F(x) x\n${'F('.repeat(5000)}1${')'.repeat(5000)}\n`;
    assert.throws(() => preprocess('/t.dts', files({ '/t.dts': args })), (e: unknown) => e instanceof CppError && /nested more than 256 deep/.test(e.message));
    // within the bounds: GNU cpp's answer
    assert.match(preprocess('/t.dts', files({ '/t.dts': `#define F(x) (x+1)\n${'F('.repeat(100)}1${')'.repeat(100)}\n#if ${'('.repeat(200)}1${')'.repeat(200)}\nyes\n#endif\n` })), /yes/);
  });
});
