/**
 * Differential tests against U-Boot's own tools (Debian u-boot-tools 2023.01: mkimage, dumpimage).
 *
 * A fast-check model (fixed seed; UIMAGE_DIFF_SEED / UIMAGE_DIFF_RUNS override it) draws arch × os ×
 * type × comp × names × addresses × XIP × multi-file part counts × SOURCE_DATE_EPOCH. Each case is
 * written by mkimage and by us, and compared byte for byte:
 *  - through the library (mkimageSpec + writeLegacyImage: many cases, in-process);
 *  - through the CLI (`uimage pack` with mkimage's exact argv: fewer cases, one process each);
 *  - `uimage list` = `TZ=UTC mkimage -T <type> -l` (scripts: -T multi), except the script "Offset = " lines, which hold a
 *    pointer into mkimage's own memory;
 *  - `uimage extract -p N` = `dumpimage -T multi -p N`;
 *  - with a flipped data byte both refuse: mkimage -l exits non-zero, `uimage list` exits 1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { filePayload } from '../../src/bytes/payload.js';
import { memorySink } from '../../src/bytes/sink.js';
import { encodeLegacyImage, idOf, isLegacyType, mkimageSpec, writeLegacyImage, ARCH_TABLE, OS_TABLE, COMP_TABLE, TYPE_TABLE } from '../../src/uimage/index.js';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { bytesOf, imageName, partSize, u32 } from './arb.js';

const BIN = join(root, 'bin/uimage');
const SEED = Number(process.env.UIMAGE_DIFF_SEED ?? 0x2705_1956);
const RUNS = Number(process.env.UIMAGE_DIFF_RUNS ?? 120);
const CLI_RUNS = Math.max(6, Math.round(RUNS / 15));

interface Case {
  arch: string;
  os: string;
  type: string;
  comp: string;
  name: string;
  load: number;
  ep: number | undefined;
  hex0x: boolean;
  xip: boolean;
  sizes: number[];
  seed: number;
  epoch: number;
}

const LEGACY_SINGLE = ['standalone', 'kernel', 'ramdisk', 'firmware', 'filesystem', 'kernel_noload', 'firmware_ivt'];

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    arch: fc.constantFrom(...ARCH_TABLE.map((e) => e.name)),
    os: fc.constantFrom(...OS_TABLE.map((e) => e.name)),
    type: fc.constantFrom(...LEGACY_SINGLE, 'multi', 'multi', 'script'),
    comp: fc.constantFrom(...COMP_TABLE.map((e) => e.name)),
    name: imageName,
    load: fc.oneof(fc.constantFrom(0, 0x80000000, 0x80060000, 0x40008000, 0xffff_ffc0), u32),
    ep: fc.option(u32, { nil: undefined }),
    hex0x: fc.boolean(),
    xip: fc.boolean(),
    sizes: fc.array(partSize, { minLength: 1, maxLength: 7 }),
    seed: fc.nat(),
    epoch: fc.oneof(fc.constantFrom(0, 315532800, 1700000000), fc.nat({ max: 0x7fff_ffff })),
  })
  .map((c) => {
    const multi = c.type === 'multi' || c.type === 'script';
    const sizes = multi ? c.sizes : [c.sizes[0]!];
    // -x needs 64 bytes of 0xff in front; mkimage's multi + -x writes an inconsistent table, which we refuse
    return { ...c, sizes, xip: c.xip && !multi };
  });

function inputs(dir: string, c: Case): string[] {
  return c.sizes.map((s, i) => {
    const p = join(dir, `in${i}.bin`);
    const data = bytesOf(s, c.seed + i);
    writeFileSync(p, c.xip ? Buffer.concat([Buffer.alloc(64, 0xff), data]) : data);
    return p;
  });
}

const hexArg = (n: number, with0x: boolean) => (with0x ? '0x' : '') + n.toString(16);

function mkimageArgs(c: Case, files: string[], out: string): string[] {
  const a = ['-A', c.arch, '-O', c.os, '-T', c.type, '-C', c.comp, '-a', hexArg(c.load, c.hex0x), '-n', c.name];
  if (c.ep !== undefined) a.push('-e', hexArg(c.ep, !c.hex0x));
  if (c.xip) a.push('-x');
  a.push('-d', files.join(':'), out);
  return a;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { encoding: 'buffer', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C', ...env }, maxBuffer: 1 << 26 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const maskOffsets = (b: Buffer) => b.toString('latin1').replace(/Offset = 0x[0-9a-f]+/g, 'Offset = X');

describe('uimage against mkimage/dumpimage 2023.01', { skip: skipWithout('mkimage', 'dumpimage') }, () => {
  let dir = '';
  before(() => {
    requireTools('mkimage', 'dumpimage');
    ensureBuilt('dist/cli/uimage.js');
    dir = tempDir('imgkit-uimage-diff-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`library: mkimageSpec + writeLegacyImage = mkimage (${RUNS} cases, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const files = inputs(dir, c);
        const ref = join(dir, 'ref.img');
        const r = run('mkimage', mkimageArgs(c, files, ref), { SOURCE_DATE_EPOCH: String(c.epoch) });
        assert.equal(r.status, 0, `mkimage failed: ${r.stderr}`);
        const data = await Promise.all(files.map((f) => filePayload(f)));
        const spec = await mkimageSpec({
          arch: ARCH_TABLE.find((e) => e.name === c.arch)!.id,
          os: OS_TABLE.find((e) => e.name === c.os)!.id,
          type: ['standalone', 'kernel', 'ramdisk', 'multi', 'firmware', 'script', 'filesystem'].indexOf(c.type) + 1 || (c.type === 'kernel_noload' ? 14 : 32),
          comp: COMP_TABLE.find((e) => e.name === c.comp)!.id,
          load: c.load,
          ...(c.ep === undefined ? {} : { ep: c.ep }),
          name: c.name,
          data,
          xip: c.xip,
          time: c.epoch,
        });
        const sink = memorySink();
        await writeLegacyImage(sink, spec);
        assert.deepEqual(Buffer.from(sink.bytes()), readFileSync(ref));
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });

  it(`CLI: uimage pack, list and extract = mkimage, mkimage -l and dumpimage (${CLI_RUNS} cases)`, () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const files = inputs(dir, c);
        const ref = join(dir, 'ref.img');
        const ours = join(dir, 'ours.img');
        const env = { SOURCE_DATE_EPOCH: String(c.epoch) };
        const r = run('mkimage', mkimageArgs(c, files, ref), env);
        assert.equal(r.status, 0, r.stderr);
        const o = run(BIN, ['pack', ...mkimageArgs(c, files, ours)], env);
        assert.equal(o.status, 0, o.stderr);
        assert.deepEqual(readFileSync(ours), readFileSync(ref), `uimage pack ${mkimageArgs(c, files, ours).join(' ')}`);
        assert.equal(maskOffsets(o.stdout), maskOffsets(r.stdout)); // the listing printed after writing

        // `mkimage -T script -l` insists on -d ("Missing data file for script"): list scripts as multi
        // (the same legacy handler; the listing follows the header's type)
        const lt = c.type === 'script' ? 'multi' : c.type;
        const l = run('mkimage', ['-T', lt, '-l', ref]);
        assert.equal(l.status, 0, l.stderr);
        const ol = run(BIN, ['list', ref]);
        assert.equal(ol.status, 0, ol.stderr);
        assert.equal(maskOffsets(ol.stdout), maskOffsets(l.stdout));

        // dumpimage writes ih_size bytes of a firmware_ivt image, running past the end of the file
        // into its memory map (ih_size counts a CSF area that is not there): not compared
        const parts = c.type === 'multi' ? c.sizes.length : c.type === 'firmware_ivt' ? 0 : 1; // a script is extracted whole
        for (let p = 0; p < parts; p++) {
          const d = run('dumpimage', ['-T', c.type, '-p', String(p), '-o', join(dir, 'd.bin'), ref]);
          assert.equal(d.status, 0, d.stderr);
          const e = run(BIN, ['extract', ref, '-p', String(p), '-o', join(dir, 'e.bin')]);
          assert.equal(e.status, 0, e.stderr);
          assert.deepEqual(readFileSync(join(dir, 'e.bin')), readFileSync(join(dir, 'd.bin')));
        }

        const bad = readFileSync(ref);
        bad[bad.length - 1]! ^= 0x40;
        writeFileSync(join(dir, 'bad.img'), bad);
        assert.notEqual(run('mkimage', ['-T', lt, '-l', join(dir, 'bad.img')]).status, 0);
        const ob = run(BIN, ['list', join(dir, 'bad.img')]);
        assert.equal(ob.status, 1);
        assert.match(ob.stderr, /^uimage: Cannot verify legacy image data: data CRC/);
        assert.equal(run(BIN, ['list', '--no-verify', join(dir, 'bad.img')]).status, 0);
      }),
      { seed: SEED + 1, numRuns: CLI_RUNS, endOnFailure: true },
    );
  });

  it('every -A/-O/-C/-T name mkimage accepts gives the same header byte through our name tables', async () => {
    const data = join(dir, 'one.bin');
    writeFileSync(data, 'x'.repeat(40));
    const legacyTypes = TYPE_TABLE.filter((e) => isLegacyType(e.id));
    for (const [flag, cat, table] of [['-A', 'arch', ARCH_TABLE], ['-O', 'os', OS_TABLE], ['-C', 'comp', COMP_TABLE], ['-T', 'type', legacyTypes]] as const) {
      for (const e of table) {
        const name = e.name.toUpperCase(); // strcasecmp
        assert.equal(run('mkimage', [flag, name, '-d', data, join(dir, 'r.img')], { SOURCE_DATE_EPOCH: '0' }).status, 0, `${flag} ${name}`);
        const id = idOf(cat, name)!;
        const spec = await mkimageSpec({ ...{ [cat]: id }, data: [new Uint8Array(readFileSync(data))], time: 0 });
        assert.deepEqual(Buffer.from(encodeLegacyImage(spec)), readFileSync(join(dir, 'r.img')), `${flag} ${name}`);
      }
    }
  });

  it('the -A/-O/-T/-C name lists are the ones mkimage prints', () => {
    const parse = (s: string) => [...s.matchAll(/^\t(\S+)\s+(.*)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    for (const [flag, cat] of [['-A', 'arch'], ['-O', 'os'], ['-C', 'comp']] as const) {
      const theirs = parse(run('mkimage', [flag, 'list']).stderr);
      const ours = parse(run(BIN, ['pack', flag, 'list']).stdout.toString());
      assert.deepEqual(ours, theirs, cat);
    }
    // mkimage -T list shows only the types it has a writer for (every type but 'loadable', which has no name)
    const theirs = parse(run('mkimage', ['-T', 'list']).stderr);
    const ours = parse(run(BIN, ['pack', '-T', 'list']).stdout.toString());
    assert.deepEqual(ours, theirs);
  });
});
