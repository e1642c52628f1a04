/**
 * FIT against U-Boot's own tools (Debian u-boot-tools 2023.01: mkimage, dumpimage), byte for byte:
 *  - `mkimage -f X.its` for several .its shapes (kernel+fdt+ramdisk, several configurations, 64-bit
 *    addresses, every hash algorithm, /incbin/ with offset and length, images without hashes, merged
 *    root blocks), through the library and through `uimage fit -f` / `uimage pack -f`;
 *  - `-E` with `-B` and `-p`: identical except [end of strings, totalsize), where mkimage 2023.01 leaves
 *    libfdt's stale bytes and we write zeros (that range, and only it, is masked);
 *  - `-f auto` with -b dtbs and -i ramdisk;
 *  - signing with `-k -K -r`: RSA 2048 and 4096 (configuration and image signatures), the FIT and the
 *    key blob identical; ECDSA P-256 signs, verifies with our verifier, and a flipped byte is refused;
 *  - `uimage list` = `TZ=UTC mkimage -l`; `uimage extract -p N` = `dumpimage -T flat_dt -p N`.
 * Keys are generated with openssl in a temporary folder for each run (never committed).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesAccess } from '../../src/bytes/random.js';
import { encodeFdt, compileDts } from '../../src/dtb/index.js';
import { encodeFit, fitAuto, fitFromIts, openFit, verifyFit, formatFitListing, type FitBuildOptions } from '../../src/uimage/index.js';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { pattern } from './fit-data.js';

const BIN = join(root, 'bin/uimage');
const EPOCH = 1_700_000_000;
const ENV = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH), TZ: 'UTC', LC_ALL: 'C' };

function run(cmd: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: 'latin1' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mk(dir: string, args: string[]): Uint8Array {
  const r = run('mkimage', [...args], dir);
  assert.equal(r.status, 0, `mkimage ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return new Uint8Array(readFileSync(join(dir, args[args.length - 1]!)));
}

/** Equal except inside [strings end, totalsize) of the FDT header of `a` (the -E stale range). */
function assertSameMasked(ours: Uint8Array, ref: Uint8Array, what: string): void {
  assert.equal(ours.length, ref.length, `${what}: length`);
  const dv = new DataView(ref.buffer, ref.byteOffset, ref.byteLength);
  const from = dv.getUint32(12) + dv.getUint32(32), to = dv.getUint32(4);
  const diffs: number[] = [];
  for (let i = 0; i < ref.length; i++) if (ours[i] !== ref[i] && !(i >= from && i < to)) diffs.push(i);
  assert.deepEqual(diffs.slice(0, 8), [], `${what}: bytes differ outside the stale range [0x${from.toString(16)}, 0x${to.toString(16)})`);
  for (let i = from; i < to; i++) assert.equal(ours[i], 0, `${what}: our padding at 0x${i.toString(16)} is not zero`);
}

const KERNEL_FDT_RAMDISK = `/dts-v1/;
/ {
	description = "Test FIT";
	#address-cells = <1>;
	images {
		kernel-1 {
			description = "Linux kernel";
			data = /incbin/("./Image.lzma");
			type = "kernel"; arch = "mips"; os = "linux"; compression = "lzma";
			load = <0x80000000>; entry = <0x80000000>;
			hash-1 { algo = "crc32"; };
			hash-2 { algo = "sha1"; };
		};
		fdt-1 {
			description = "Flattened Device Tree blob";
			data = /incbin/("./board.dtb");
			type = "flat_dt"; arch = "mips"; compression = "none";
			hash-1 { algo = "sha256"; };
		};
		ramdisk-1 {
			description = "initramfs";
			data = /incbin/("./initrd.cpio");
			type = "ramdisk"; arch = "mips"; os = "linux"; compression = "none";
			load = <0x00000000>; entry = <0x00000000>;
			hash-1 { algo = "md5"; };
		};
	};
	configurations {
		default = "conf-1";
		conf-1 { description = "Boot Linux kernel with FDT blob"; kernel = "kernel-1"; fdt = "fdt-1"; ramdisk = "ramdisk-1"; };
	};
};
`;

/** Several configurations and fdts, every hash algorithm, an image without hashes, loadables, firmware. */
const MULTI = `/dts-v1/;
/ {
	description = "Multi";
	#address-cells = <1>;
	images {
		kernel@1 {
			description = "gzip kernel";
			data = /incbin/("Image.gz");
			type = "kernel"; arch = "arm"; os = "linux"; compression = "gzip";
			load = <0x40008000>; entry = <0x40008000>;
			hash@1 { algo = "crc16-ccitt"; };
			hash@2 { algo = "sha384"; };
			hash@3 { algo = "sha512"; };
		};
		fdt-a { data = /incbin/("board.dtb"); type = "flat_dt"; arch = "arm"; compression = "none"; load = <0x43000000>; hash { algo = "crc32"; }; };
		fdt-b { description = "b"; data = /incbin/("board.dtb", 4, 17); type = "flat_dt"; arch = "arm"; compression = "none"; };
		fw-1 { description = "firmware"; data = [de ad be ef 01]; type = "firmware"; arch = "arm"; os = "u-boot"; compression = "none"; load = <0x1000>; hash-1 { algo = "sha256"; }; };
		tee-1 { description = "tee"; data = /incbin/("initrd.cpio"); type = "tee"; arch = "arm"; os = "tee"; compression = "lz4"; load = <0x8000000>; entry = <0x8000000>; hash-1 { algo = "md5"; }; hash-2 { algo = "crc32"; }; };
	};
	configurations {
		default = "conf-b";
		conf-a { description = "A"; kernel = "kernel@1"; fdt = "fdt-a"; loadables = "fw-1", "tee-1"; };
		conf-b { description = "B"; kernel = "kernel"; fdt = "fdt-a", "fdt-b"; compatible = "vendor,board"; };
		conf-c { firmware = "fw-1"; };
	};
};
`;

/** 64-bit addresses and a second root block merged in (Liminix builds its .its so). */
const ADDR64 = `/dts-v1/;
/ {
	description = "arm64";
	#address-cells = <2>;
	images {
		kernel { description = "Image"; type = "kernel"; arch = "arm64"; os = "linux"; compression = "none"; hash-1 { algo = "sha256"; }; };
	};
	configurations { default = "c"; c { kernel = "kernel"; }; };
};
/ { images { kernel { data = /incbin/("Image.lzma"); load = <0x0 0x40200000>; entry = <0x0 0x40200000>; }; }; };
/ { timestamp = <0x1234>; };
`;

/** A signed configuration plus an image signature and a second configuration signed with sign-images. */
const SIGNED = (bits: number) => KERNEL_FDT_RAMDISK
  .replace('hash-2 { algo = "sha1"; };', `hash-2 { algo = "sha1"; };\n\t\t\tsignature-1 { algo = "sha256,rsa${bits}"; key-name-hint = "dev"; };`)
  .replace('ramdisk = "ramdisk-1"; };', `ramdisk = "ramdisk-1";
			signature-1 { algo = "sha256,rsa${bits}"; key-name-hint = "dev"; sign-images = "fdt", "kernel", "ramdisk"; };
		};
		conf-2 { kernel = "kernel-1"; fdt = "fdt-1"; signature-1 { algo = "sha1,rsa${bits}"; key-name-hint = "dev"; }; };`);

const ECDSA = KERNEL_FDT_RAMDISK.replace('ramdisk = "ramdisk-1"; };', 'ramdisk = "ramdisk-1"; signature-1 { algo = "sha256,ecdsa256"; key-name-hint = "ec"; sign-images = "fdt", "kernel", "ramdisk"; }; };');

describe('FIT against mkimage/dumpimage 2023.01', { skip: skipWithout('mkimage', 'dumpimage', 'openssl', 'dtc') }, () => {
  let dir = '';
  before(() => {
    requireTools('mkimage', 'dumpimage', 'openssl', 'dtc');
    ensureBuilt('dist/cli/uimage.js');
    dir = tempDir('imgkit-fit-diff-');
    writeFileSync(join(dir, 'Image.lzma'), pattern(5087, 1));
    writeFileSync(join(dir, 'Image.gz'), pattern(70_001, 2));
    writeFileSync(join(dir, 'initrd.cpio'), pattern(3001, 3));
    writeFileSync(join(dir, 'board.dtb'), encodeFdt(compileDts({ name: 'b.dts', text: '/dts-v1/; / { model = "x"; compatible = "a,b"; };' })));
    writeFileSync(join(dir, 'ctl.dtb'), encodeFdt(compileDts({ name: 'c.dts', text: '/dts-v1/; / { model = "ctl"; };' })));
    writeFileSync(join(dir, 'ctl-ec.dtb'), encodeFdt(compileDts({ name: 'c.dts', text: '/dts-v1/; / { model = "ctl"; signature { }; };' })));
    for (const [name, its] of Object.entries({ basic: KERNEL_FDT_RAMDISK, multi: MULTI, addr64: ADDR64, s2048: SIGNED(2048), s4096: SIGNED(4096), ecdsa: ECDSA }))
      writeFileSync(join(dir, `${name}.its`), its);
    for (const [sub, bits] of [['keys', 2048], ['keys4', 4096]] as const) {
      mkdirSync(join(dir, sub));
      assert.equal(run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', `${sub}/dev.key`], dir).status, 0);
      assert.equal(run('openssl', ['req', '-batch', '-new', '-x509', '-key', `${sub}/dev.key`, '-out', `${sub}/dev.crt`, '-subj', '/CN=dev'], dir).status, 0);
    }
    assert.equal(run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'keys/ec.pem'], dir).status, 0);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  const ours = async (its: string, o: Partial<FitBuildOptions> = {}) => (await encodeFit(fitFromIts(join(dir, its)), { time: EPOCH, ...o })).bytes;

  for (const its of ['basic', 'multi', 'addr64']) {
    it(`${its}.its: internal data identical to mkimage -f`, async () => {
      const ref = mk(dir, ['-f', `${its}.its`, `${its}.ref.itb`]);
      assert.deepEqual(await ours(`${its}.its`), ref);
    });
    for (const flags of [['-E'], ['-E', '-B', '200'], ['-E', '-B', '1000'], ['-E', '-p', '8000'], ['-E', '-B', '40', '-p', '20000']]) {
      it(`${its}.its ${flags.join(' ')}: identical except the stale padding range`, async () => {
        const ref = mk(dir, [...flags, '-f', `${its}.its`, `${its}.E.itb`]);
        const B = flags.indexOf('-B'), p = flags.indexOf('-p');
        const got = await ours(`${its}.its`, {
          external: true,
          ...(B >= 0 ? { align: parseInt(flags[B + 1]!, 16) } : {}),
          ...(p >= 0 ? { position: parseInt(flags[p + 1]!, 16) } : {}),
        });
        assertSameMasked(got, ref, `${its} ${flags.join(' ')}`);
        // dumpimage reads our external data back
        const fit = await openFit(bytesAccess(got));
        for (const im of fit.images) {
          const o = join(dir, `dump.${im.index}`);
          writeFileSync(join(dir, `${its}.ours.itb`), got);
          const r = run('dumpimage', ['-T', 'flat_dt', '-p', String(im.index), '-o', o, `${its}.ours.itb`], dir);
          assert.equal(r.status, 0, r.stderr);
          assert.equal(readFileSync(o).length, im.dataSize);
        }
      });
    }
  }

  it('uimage fit -f and uimage pack -f write the same bytes as mkimage; list = mkimage -l; extract = dumpimage -p', () => {
    for (const its of ['basic', 'multi', 'addr64']) {
      const ref = mk(dir, ['-f', `${its}.its`, `${its}.cli.ref.itb`]);
      for (const verb of [['fit'], ['pack']]) {
        const r = run(BIN, [...verb, '-q', '-f', `${its}.its`, `${its}.cli.itb`], dir);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(new Uint8Array(readFileSync(join(dir, `${its}.cli.itb`))), ref, `${verb[0]} ${its}`);
      }
      const l1 = run('mkimage', ['-l', `${its}.cli.ref.itb`], dir), l2 = run(BIN, ['list', `${its}.cli.itb`], dir);
      assert.equal(l2.status, 0, l2.stderr);
      assert.equal(l2.stdout, l1.stdout, `list ${its}`);
      const n = (l1.stdout.match(/^ Image \d+/gm) ?? []).length;
      for (let i = 0; i < n; i++) {
        assert.equal(run('dumpimage', ['-T', 'flat_dt', '-p', String(i), '-o', `d.${i}`, `${its}.cli.ref.itb`], dir).status, 0);
        const r = run(BIN, ['extract', `${its}.cli.itb`, '-p', String(i), '-o', `e.${i}`], dir);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(readFileSync(join(dir, `e.${i}`)), readFileSync(join(dir, `d.${i}`)), `extract ${its} -p ${i}`);
      }
    }
  });

  it('-f auto (kernel, two -b dtbs, -i ramdisk; and kernel alone) identical to mkimage, internal and -E', async () => {
    mkdirSync(join(dir, 'dt'), { recursive: true });
    copyFileSync(join(dir, 'board.dtb'), join(dir, 'dt/sun7i-a20.board.dtb'));
    const cases = [
      ['-A', 'arm', '-O', 'linux', '-T', 'kernel', '-C', 'none', '-a', '40008000', '-e', '40008010', '-n', 'Kernel', '-d', 'Image.gz', '-b', 'dt/sun7i-a20.board.dtb', '-b', 'ctl.dtb', '-i', 'initrd.cpio'],
      ['-A', 'mips', '-C', 'lzma', '-a', '80060000', '-d', 'Image.lzma'],
    ];
    for (const args of cases) {
      for (const ext of [[], ['-E']]) {
        const ref = mk(dir, [...ext, '-f', 'auto', ...args, 'auto.ref.itb']);
        const r = run(BIN, ['pack', '-q', ...ext, '-f', 'auto', ...args, 'auto.itb'], dir);
        assert.equal(r.status, 0, r.stderr);
        const got = new Uint8Array(readFileSync(join(dir, 'auto.itb')));
        if (ext.length) assertSameMasked(got, ref, `auto ${args.join(' ')} -E`);
        else assert.deepEqual(got, ref, `auto ${args.join(' ')}`);
      }
    }
    // the library's fitAuto gives the same bytes
    const ref = mk(dir, ['-f', 'auto', ...cases[0]!, 'auto.ref.itb']);
    const rd = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
    const lib = await encodeFit(fitAuto({
      type: 2, arch: 2, os: 5, comp: 0, load: 0x40008000, entry: 0x40008010, name: 'Kernel', image: rd('Image.gz'),
      dtbs: [{ path: 'dt/sun7i-a20.board.dtb', data: rd('board.dtb') }, { path: 'ctl.dtb', data: rd('ctl.dtb') }], ramdisk: rd('initrd.cpio'),
    }), { time: EPOCH });
    assert.deepEqual(lib.bytes, ref);
  });

  for (const [its, keys] of [['s2048', 'keys'], ['s4096', 'keys4']] as const) {
    for (const flags of [['-r'], ['-E', '-B', '100']]) {
      it(`${its} ${flags.join(' ')}: signed FIT and -K key blob identical to mkimage; verifies; a flipped byte is refused`, async () => {
        copyFileSync(join(dir, 'ctl.dtb'), join(dir, 'k.ref.dtb'));
        copyFileSync(join(dir, 'ctl.dtb'), join(dir, 'k.dtb'));
        const ref = mk(dir, [...flags, '-f', `${its}.its`, '-k', keys, '-K', 'k.ref.dtb', `${its}.ref.itb`]);
        const r = run(BIN, ['fit', '-q', ...flags, '-f', `${its}.its`, '-k', keys, '-K', 'k.dtb', `${its}.itb`], dir);
        assert.equal(r.status, 0, r.stderr);
        const got = new Uint8Array(readFileSync(join(dir, `${its}.itb`)));
        if (flags.includes('-E')) assertSameMasked(got, ref, its);
        else assert.deepEqual(got, ref);
        assert.deepEqual(readFileSync(join(dir, 'k.dtb')), readFileSync(join(dir, 'k.ref.dtb')), 'key blob');
        assert.equal(run(BIN, ['list', `${its}.itb`], dir).stdout, run('mkimage', ['-l', `${its}.ref.itb`], dir).stdout);
        const ok = run(BIN, ['fit', 'verify', `${its}.itb`, '-K', 'k.dtb'], dir);
        assert.equal(ok.status, 0, ok.stderr + ok.stdout);
        assert.equal((ok.stdout.match(/ OK \(key-dev\)/g) ?? []).length, 3, ok.stdout);
        // mkimage's own output verifies with our verifier too
        const v = await verifyFit(await openFit(bytesAccess(ref)), { keyBlob: new Uint8Array(readFileSync(join(dir, 'k.ref.dtb'))) });
        assert.ok(v.ok, JSON.stringify(v.signatures));
        // a flipped byte in a signed node property (the config's description), which no hash covers
        const bad = got.slice();
        const at = Buffer.from(bad).indexOf('Boot Linux kernel');
        bad[at] = bad[at]! ^ 1;
        const vb = await verifyFit(await openFit(bytesAccess(bad)), { keyBlob: new Uint8Array(readFileSync(join(dir, 'k.dtb'))) });
        assert.equal(vb.ok, false);
        assert.ok(vb.hashes.every((h) => h.ok) && vb.signatures.some((s) => s.status === 'bad' && s.path.startsWith('/configurations/conf-1')));
      });
    }
  }

  it('ECDSA P-256: signs, verifies with the -K blob (mkimage 2023.01 node layout), and refuses a flipped byte', async () => {
    copyFileSync(join(dir, 'ctl-ec.dtb'), join(dir, 'kec.dtb'));
    copyFileSync(join(dir, 'ctl-ec.dtb'), join(dir, 'kec.ref.dtb'));
    mk(dir, ['-f', 'ecdsa.its', '-k', 'keys', '-K', 'kec.ref.dtb', 'ec.ref.itb']);
    const r = run(BIN, ['fit', '-q', '-f', 'ecdsa.its', '-k', 'keys', '-K', 'kec.dtb', 'ec.itb'], dir);
    assert.equal(r.status, 0, r.stderr);
    const got = new Uint8Array(readFileSync(join(dir, 'ec.itb')));
    const ref = new Uint8Array(readFileSync(join(dir, 'ec.ref.itb')));
    assert.equal(got.length, ref.length, 'same layout; only the signature value differs');
    assert.deepEqual(readFileSync(join(dir, 'kec.dtb')), readFileSync(join(dir, 'kec.ref.dtb')), 'the public key node is identical');
    const key = new Uint8Array(readFileSync(join(dir, 'kec.dtb')));
    for (const blob of [got, ref]) assert.ok((await verifyFit(await openFit(bytesAccess(blob)), { keyBlob: key })).ok);
    const bad = got.slice();
    const at = Buffer.from(bad).indexOf('Flattened Device');
    bad[at] = bad[at]! ^ 0x20;
    assert.equal((await verifyFit(await openFit(bytesAccess(bad)), { keyBlob: key })).ok, false);
  });

  it('an .its without a root description: mkimage -f exits 1 (U-Boot refuses such a FIT), and so does uimage fit/pack -f, writing nothing; list, verify and extract refuse such a FIT', async () => {
    const its = readFileSync(join(dir, 'basic.its'), 'utf8').replace(/^(\t| {4})description = "[^"]*";\n/m, '');
    assert.notEqual(its, readFileSync(join(dir, 'basic.its'), 'utf8'), 'the root description was removed');
    writeFileSync(join(dir, 'nodesc.its'), its);
    const m = run('mkimage', ['-f', 'nodesc.its', 'nodesc.ref.itb'], dir);
    assert.equal(m.status, 1);
    assert.match(m.stderr, /verify_header failed/);
    for (const verb of ['fit', 'pack']) {
      const r = run(BIN, [verb, '-f', 'nodesc.its', `nodesc.${verb}.itb`], dir);
      assert.equal(r.status, 1, verb);
      assert.match(r.stderr, /verify_header failed for FIT Image support: the root node has no 'description'/);
      assert.equal(existsSync(join(dir, `nodesc.${verb}.itb`)), false, 'no output file');
    }
    await assert.rejects(ours('nodesc.its'), /root node has no 'description'/);
    // mkimage wrote its file before refusing it: dumpimage does not take it for a FIT, and uimage
    // list, fit verify and extract refuse it unless --no-verify
    assert.equal(run('dumpimage', ['-T', 'flat_dt', '-l', 'nodesc.ref.itb'], dir).status, 1);
    const l = run(BIN, ['list', 'nodesc.ref.itb'], dir);
    assert.equal(l.status, 1);
    assert.match(l.stderr, /the root node has no 'description' \(U-Boot's fit_check_format refuses this FIT\)/);
    assert.equal(run(BIN, ['list', '--no-verify', 'nodesc.ref.itb'], dir).status, 0);
    assert.equal(run(BIN, ['fit', 'verify', 'nodesc.ref.itb'], dir).status, 1);
    assert.equal(run(BIN, ['extract', 'nodesc.ref.itb', '-p', '0', '-o', 'nd.bin'], dir).status, 1);
    assert.equal(existsSync(join(dir, 'nd.bin')), false);
    assert.equal(run(BIN, ['extract', '--no-verify', 'nodesc.ref.itb', '-p', '0', '-o', 'nd.bin'], dir).status, 0);
    // a root description without the timestamp mkimage adds: the same refusal
    writeFileSync(join(dir, 'nots.dts'), '/dts-v1/; / { description = "d"; #address-cells = <1>; images { k { data = [01 02]; type = "kernel"; arch = "arm"; os = "linux"; compression = "none"; load = <0>; entry = <0>; }; }; configurations { default = "c"; c { kernel = "k"; }; }; };');
    assert.equal(run('dtc', ['-I', 'dts', '-O', 'dtb', '-o', 'nots.itb', 'nots.dts'], dir).status, 0);
    assert.equal(run('dumpimage', ['-T', 'flat_dt', '-l', 'nots.itb'], dir).status, 1);
    const t = run(BIN, ['fit', 'verify', 'nots.itb'], dir);
    assert.equal(t.status, 1);
    assert.match(t.stderr, /the root node has no 'timestamp'/);
    assert.deepEqual((await verifyFit(await openFit(bytesAccess(new Uint8Array(readFileSync(join(dir, 'nots.itb'))))))).format, ["the root node has no 'timestamp' (U-Boot's fit_check_format refuses this FIT)"]);
  });

  it('a flipped byte in image data: mkimage -l still lists (rc 0), uimage list and fit verify refuse (rc 1)', () => {
    const ref = mk(dir, ['-f', 'basic.its', 'flip.itb']);
    const fit = readFileSync(join(dir, 'flip.itb'));
    fit[Buffer.from(fit).indexOf(Buffer.from(pattern(5087, 1).subarray(100, 116))) + 3]! ^= 0x80;
    writeFileSync(join(dir, 'flip.itb'), fit);
    assert.equal(ref.length, fit.length);
    assert.equal(run('mkimage', ['-l', 'flip.itb'], dir).status, 0);
    const l = run(BIN, ['list', 'flip.itb'], dir);
    assert.equal(l.status, 1);
    assert.match(l.stderr, /kernel-1\/hash-1 \(crc32\): value does not match/);
    assert.equal(run(BIN, ['fit', 'verify', 'flip.itb'], dir).status, 1);
    assert.equal(run(BIN, ['extract', 'flip.itb', '-p', '0', '-o', 'x.bin'], dir).status, 1);
    assert.equal(run(BIN, ['extract', 'flip.itb', '-p', '1', '-o', 'x.bin'], dir).status, 0, 'other images still extract');
  });

  it('the listing of every shape equals mkimage -l through the library too', async () => {
    for (const its of ['multi', 'addr64']) {
      const ref = mk(dir, ['-f', `${its}.its`, `${its}.l.itb`]);
      assert.equal(formatFitListing(await openFit(bytesAccess(ref))), run('mkimage', ['-l', `${its}.l.itb`], dir).stdout);
    }
  });
});
