/**
 * dtc's checks as a whole: every warning check's messages, prerequisites that fail, -W/-E turning
 * checks on and off, -q, -f. Each case compiles the same source with dtc 1.6.1 and with `fdt compile`
 * in folders of the same layout, and wants the same standard error, the same output and the matching
 * exit status (dtc's 2 for failed checks is our 1).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, skipUnless } from './helpers.js';
import { ensureBuilt, root, tempDir } from '../helpers.js';
import { checkNames, compileDts } from '../../src/dtb/index.js';

const fdt = join(root, 'bin/fdt');
let tmp = '';

before(() => {
  ensureBuilt('dist/cli/fdt.js');
  tmp = tempDir('imgkit-warn-');
  mkdirSync(join(tmp, 'dtc'));
  mkdirSync(join(tmp, 'ours'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const V1 = '/dts-v1/;\n';

/** One source per group of checks, so that one group's failures do not hide another's as failed prerequisites. */
const SOURCES: Record<string, string> = {
  'strings-and-cells': `${V1}/ { #address-cells = <1 2>; #size-cells = <1>;
    n { device_type = <1>; model = <2>; status = <3>; label = <4>; compatible = "a", [01]; clock-names = [61]; x-names = "a", "b"; };
  };`,
  'reg-and-ranges': `${V1}/ { #address-cells = <1>; #size-cells = <1>; reg = <0 0>; ranges = <1>; dma-ranges;
    a@0 { reg = <0 1 2>; };
    b@1 { reg; };
    c { #address-cells = <2>; #size-cells = <2>; ranges; };
    d { #address-cells = <1>; #size-cells = <1>; ranges = <1 2>; dma-ranges = <1>; };
  };`,
  'unit-addresses': `${V1}/ { #address-cells = <1>; #size-cells = <1>;
    a@1 { }; b { reg = <1 1>; }; c@0x10 { reg = <0x10 1>; }; d@01 { reg = <1 1>; }; e@0 { ranges; }; f@2 { ranges = <2 2 1>; #address-cells = <1>; #size-cells = <1>; };
    g@3 { reg = <3 1>; __overlay__ { }; };
  };`,
  pci: `${V1}/ { #address-cells = <1>; #size-cells = <1>;
    pcix@0 { device_type = "pci"; reg = <0 1>; #address-cells = <2>; #size-cells = <1>; bus-range = <2 1 3>; };
    pci@1 { device_type = "pci"; reg = <1 1>; ranges; #address-cells = <3>; #size-cells = <2>; bus-range = <5 0x100>;
      d@2,1 { reg = <0x01051101 1 0 0 0>; };
      e@3 { reg = <0x00001800 0 0 0 0>; };
      f@4,0 { reg = <0x00002000 0 0 0 0>; };
    };
    pcie@2 { device_type = "pci"; reg = <2 1>; ranges; #address-cells = <3>; #size-cells = <2>; bus-range = <0 1>; g@1 { reg = <0x00010800 0 0 0 0>; }; };
  };`,
  'simple-bus': `${V1}/ { #address-cells = <1>; #size-cells = <1>;
    bus@0 { compatible = "vendor,x", "simple-bus"; reg = <0 1>; #address-cells = <2>; #size-cells = <1>; ranges;
      x@1 { reg = <0 2 1>; };
      y { };
      z@5 { ranges = <0 0 0 5 1>; #address-cells = <1>; #size-cells = <1>; };
      w@123456789 { reg = <1 0x23456789 4>; };
      inner@0 { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; };
    };
  };`,
  i2c: `${V1}/ { #address-cells = <1>; #size-cells = <1>;
    i2c@0 { reg = <0 1>; #address-cells = <2>; a@50 { reg = <0x50 0>; }; };
    i2c@1 { reg = <1 1>; #address-cells = <1>; #size-cells = <0>;
      d@80 { reg = <0x80>; }; e@50 { reg = <0x40000050>; }; f@80000400 { reg = <0x80000400>; }; g@80000010 { reg = <0x80000010>; }; h { }; k@11 { reg = <0x11 0x12>; };
    };
    i2c-bus { #address-cells = <1>; #size-cells = <0>; q@1 { reg = <1>; }; };
    i2c-arb { }; i2c@2 { reg = <2 1>; };
  };`,
  spi: `${V1}/ { #address-cells = <1>; #size-cells = <1>;
    spi@0 { reg = <0 1>; #address-cells = <1>; #size-cells = <1>; a@1 { reg = <1 1>; }; };
    bus@1 { reg = <1 1>; #address-cells = <1>; #size-cells = <0>; dev@2 { reg = <2>; spi-max-frequency = <1>; }; dev@3 { reg = <4>; }; x { }; };
    spi@2 { reg = <2 1>; spi-slave; #address-cells = <0>; #size-cells = <0>; s { }; };
    other { #address-cells = <1>; #size-cells = <0>; c { spi-cpol; }; };
  };`,
  'address-cells': `${V1}/ {
    a { reg = <1 1>; };
    b { #address-cells = <1>; #size-cells = <1>; c { }; };
    d { #address-cells = <1>; #size-cells = <0>; x@1 { reg = <1>; }; y@1 { reg = <1>; }; z@1 { reg = <1>; status = "disabled"; }; w@2 { }; v@2 { }; };
    e { ranges; };
  };`,
  chosen: `${V1}/ { chosen { interrupt-controller; bootargs = <1>; linux,stdout-path = <2>; }; x { chosen { stdout-path = "a", "b"; }; }; };`,
  providers: `${V1}/ {
    cl: clk { #clock-cells = <1>; }; c0: clk0 { #clock-cells = <0>; }; nc: nocells { };
    a { clocks = <&cl 1 &c0 0 &cl>; };
    b { resets = <&nc 1>; phys = [00 00 00 01 02]; pwms = <1>; mboxes = <0 &cl 1>; msi-parent = <&nc>; dmas = <0xffffffff &nc>; iommus = <&cl>; };
    g { foo-gpios = <&nc 1>; gpio = <&cl 1 2>; x,nr-gpios = <3>; gpios = <&gc 1 2 &gc 1>; };
    gc: gc { #gpio-cells = <2>; };
    h { gpio-hog; gpios = <5>; };
  };`,
  'provider-cells': `${V1}/ { c: c { #clock-cells = <1 1>; #pwm-cells = [00]; }; a { clocks = <&c>; pwms = <&c>; }; };`,
  interrupts: `${V1}/ { #address-cells = <1>; #size-cells = <0>;
    ic: ic { interrupt-controller; #interrupt-cells = <2>; #address-cells = <0>; };
    ic2: ic2 { interrupt-controller; };
    nic: nic { };
    a { interrupt-parent = <&ic>; interrupts = <1 2 3>; };
    b { interrupts = <1>; };
    c { interrupt-parent = <&nic>; interrupts = <1>; };
    d { interrupt-parent = <0>; interrupts = <1>; };
    e { interrupts = [01 02]; interrupt-parent = <&ic2>; };
    f { interrupt-parent = <0x1234>; interrupts = <1 2>; };
    im { interrupt-map = <>; };
    ic { sub { interrupts = <1 2>; }; };
  };`,
  aliases: `${V1}/ { aliases { ser0 = "/a"; Bad_Name = "/b"; empty; miss = "/nope"; rel = "a"; p = &{/b}; }; a { }; b { }; c { aliases { x = "/c"; }; }; };`,
  graph: `${V1}/ {
    a { port { ep: endpoint { remote-endpoint = <&ep2>; }; }; };
    b { ports { #address-cells = <1>; #size-cells = <0>;
        port@0 { reg = <0>; ep2: endpoint@1 { reg = <1>; remote-endpoint = <&ep>; }; };
        prt@1 { reg = <2>; x: ep { remote-endpoint = <&ep>; }; };
        port@2 { reg = <2 3>; endpoint { remote-endpoint = <&x>; }; };
      };
    };
    c { port { #address-cells = <1>; #size-cells = <0>; endpoint@0 { reg = <0>; remote-endpoint = <0x999>; }; }; };
    d { #address-cells = <1>; #size-cells = <0>; port@1 { reg = <1>; endpoint { remote-endpoint = <0>; }; }; };
  };`,
  'names-vs-props': `${V1}/ { a = <1>; a { }; b@1 { }; };`,
  'plugin': `${V1}/plugin/;\n/ { fragment@0 { target = <&ext>; __overlay__ { clocks = <&ext 1>; interrupts = <1>; interrupt-parent = <&ext>; e { remote-endpoint = <&ext>; }; }; }; };`,
  'error-after-warnings': `${V1}/ { a@1 { }; b { x = <&nowhere>; }; c@2 { }; };`,
  strict: `${V1}/ { Node_1 { Prop_x = <1>; vendor,#cells = <1>; #a#b = <2>; device_type = "x"; reset-gpio = <0>; }; n { status = "disabled"; a@1 { reg = <1>; }; }; };`,
  'unique-if-enabled': `${V1}/ { #address-cells = <1>; #size-cells = <0>; a@1 { reg = <1>; }; b@1 { reg = <1>; status = "disabled"; }; c@1 { reg = <1>; }; };`,
};

/** Option sets run on every source. */
const OPTION_SETS: string[][] = [[], ['-q'], ['-q', '-q'], ['-f'], ['-@'], ['-O', 'dts']];

/** Option sets run on a few sources: -W/-E turning checks and their prerequisites on and off. */
const CHECK_OPTIONS: [string, string[]][] = [
  ['unit-addresses', ['-W', 'no-unit_address_vs_reg']],
  ['unit-addresses', ['-Wno_unit_address_format', '-W', 'unit_address_format']],
  ['unit-addresses', ['-E', 'unit_address_vs_reg']],
  ['unit-addresses', ['-E', 'unit_address_vs_reg', '-f']],
  ['reg-and-ranges', ['-W', 'no-reg_format']],
  ['reg-and-ranges', ['-E', 'reg_format']],
  ['reg-and-ranges', ['-W', 'no-addr_size_cells']],
  ['strings-and-cells', ['-E', 'addr_size_cells', '-f']],
  ['strict', ['-W', 'node_name_chars_strict', '-W', 'property_name_chars_strict', '-W', 'deprecated_gpio_property']],
  ['unique-if-enabled', ['-W', 'unique_unit_address_if_enabled', '-W', 'no-unique_unit_address']],
  ['unique-if-enabled', ['-W', 'always_fail']],
  ['unique-if-enabled', ['-E', 'always_fail', '-f']],
  ['error-after-warnings', ['-E', 'no-phandle_references']],
  ['error-after-warnings', ['-W', 'no-duplicate_node_names']],
  ['names-vs-props', ['-E', 'no-node_name_chars']],
  ['names-vs-props', ['-W', 'bogus_check']],
  ['names-vs-props', ['-E', 'no-bogus']],
  ['providers', ['-W', 'no-phandle_references', '-E', 'clocks_property']],
];

function compare(name: string, opts: string[]): void {
  const src = SOURCES[name]!;
  for (const side of ['dtc', 'ours']) writeFileSync(join(tmp, side, `${name}.dts`), src);
  const args = [...opts, '-o', 'out', `${name}.dts`];
  const ref = run('dtc', args, { cwd: join(tmp, 'dtc') });
  const ours = run(fdt, ['compile', ...args], { cwd: join(tmp, 'ours') });
  assert.equal(ours.err, ref.err, `standard error of dtc ${args.join(' ')}`);
  assert.equal(ours.code, ref.code === 2 ? 1 : ref.code, `exit status (dtc: ${ref.code})`);
  if (ref.code === 0) assert.deepEqual(run('cat', ['out'], { cwd: join(tmp, 'ours') }).out, run('cat', ['out'], { cwd: join(tmp, 'dtc') }).out);
}

describe('dtc checks: warnings, prerequisites, -W/-E', { skip: skipUnless('dtc') }, () => {
  for (const name of Object.keys(SOURCES)) {
    it(name, () => {
      for (const opts of OPTION_SETS) compare(name, opts);
    });
  }
  for (const [name, opts] of CHECK_OPTIONS) it(`${name} with ${opts.join(' ')}`, () => compare(name, opts));

  it('fdt batch: dtc -b 0 for each file, its warnings with -W/-E as dtc prints them', () => {
    const names = ['unit-addresses', 'i2c', 'graph', 'providers'];
    const dir = join(tmp, 'batch');
    mkdirSync(join(dir, 'out'), { recursive: true });
    for (const n of names) writeFileSync(join(dir, `${n}.dts`), SOURCES[n]!);
    writeFileSync(join(dir, 'list'), names.map((n) => join(dir, `${n}.dts`)).join('\n') + '\n');
    const flags = ['-Wno-unit_address_vs_reg', '-W', 'no-graph_child_address', '-Wnode_name_chars_strict'];
    const ours = run(fdt, ['batch', join(dir, 'list'), '--out-dir', join(dir, 'out'), ...flags]);
    assert.equal(ours.code, 0, ours.err);
    let err = '';
    for (const n of names) {
      const ref = run('dtc', ['-b', '0', ...flags, '-O', 'dtb', join(dir, `${n}.dts`)]);
      assert.equal(ref.code, 0, ref.err);
      err += ref.err;
      assert.deepEqual(run('cat', [join(dir, 'out', `${n}.dtb`)]).out, ref.out, n);
    }
    assert.equal(ours.err, err);
    const bad = run(fdt, ['batch', join(dir, 'list'), '--out-dir', join(dir, 'out'), '-E', 'nosuch']);
    assert.deepEqual([bad.code, bad.err], [1, 'FATAL ERROR: Unrecognized check name "nosuch"\n']);
  });

  it('-I dtb: messages name the output, or <stdout>', () => {
    writeFileSync(join(tmp, 'dtc', 'w.dts'), SOURCES['unit-addresses']!);
    run('dtc', ['-q', '-o', 'w.dtb', 'w.dts'], { cwd: join(tmp, 'dtc') });
    execFileSync('cp', [join(tmp, 'dtc', 'w.dtb'), join(tmp, 'ours', 'w.dtb')]);
    for (const opts of [['-o', 'x.dtb'], ['-O', 'dts']]) {
      const ref = run('dtc', ['-I', 'dtb', ...opts, 'w.dtb'], { cwd: join(tmp, 'dtc') });
      const ours = run(fdt, ['compile', '-I', 'dtb', ...opts, 'w.dtb'], { cwd: join(tmp, 'ours') });
      assert.equal(ours.err, ref.err);
      assert.deepEqual(ours.out, ref.out);
    }
  });
});

describe('dtc checks in the library', () => {
  it('lists dtc 1.6.1\'s check names', () => {
    const names = checkNames();
    assert.equal(names.length, 88);
    for (const n of ['duplicate_node_names', 'unit_address_vs_reg', 'clocks_is_cell', 'graph_endpoint', 'always_fail']) assert.ok(names.includes(n), n);
  });
  it('hands warnings to onWarning and throws on an unknown -W name', () => {
    const seen: string[] = [];
    compileDts({ name: 'x.dts', text: `${V1}/ { a@1 { }; };` }, { onWarning: (m) => seen.push(m) });
    assert.deepEqual(seen, ["x.dts:2.9-13: Warning (unit_address_vs_reg): /a@1: node has a unit name, but no reg or ranges property"]);
    assert.throws(() => compileDts({ name: 'x.dts', text: `${V1}/ { };` }, { checks: [['W', 'nope']] }), /Unrecognized check name "nope"/);
  });
  it('stays linear on 20000 children with one unit address (messages capped)', () => {
    const kids = Array.from({ length: 20000 }, (_, i) => `n${i}@1 { reg = <1>; };`).join(' ');
    let lines = 0;
    compileDts({ name: 'u.dts', text: `${V1}/ { #address-cells = <1>; #size-cells = <0>; ${kids} };` }, { onWarning: () => void lines++ });
    assert.ok(lines <= 10_001, `${lines} lines`);
  });
});
