/**
 * nix/: every builder runs for real under Debian's nix-bin with plain `derivation` (test/nix/harness.nix,
 * no nixpkgs), offline. Each store output is compared with the same image made by the CLI directly, and
 * with the reference tool (GNU cpio + xz, mksquashfs, cpp + dtc, mkbootimg, lzma + mkimage). A second
 * build must be a no-op, and `nix-build --check` from another TMPDIR must rebuild the same bytes.
 *
 * Skips when nix is not installed; under CI (process.env.CI) a missing nix or reference tool fails instead.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { has, requireTools, root, skipWithout, tempDir } from '../helpers.js';

const repo = root.replace(/\/$/, '');
const bin = (tool: string) => join(repo, 'bin', tool);
const NIX_TOOLS = ['nix-build', 'nix-instantiate', 'nix-store'];
const NIX_OPTS = ['--option', 'sandbox', 'false', '--option', 'substituters', '', '--option', 'build-users-group', ''];
const EPOCH = '315532800'; // the builders' default SOURCE_DATE_EPOCH (nixpkgs' stdenv value)

/** Runs a bash command; returns stdout as bytes, throws with stderr on a non-zero exit. */
function sh(cmd: string, opts: SpawnSyncOptions = {}): Buffer {
  // umask 022 as in a Nix build: cp --parents and new files get the modes the builders see.
  const r = spawnSync('bash', ['-c', `set -eu -o pipefail\numask 022\n${cmd}`], { maxBuffer: 1 << 28, ...opts, env: { ...process.env, ...opts.env } });
  if (r.status !== 0) throw new Error(`command failed (${r.status ?? r.signal}): ${cmd}\n${r.stderr?.toString()}`);
  return r.stdout as Buffer;
}
const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Deterministic bytes (xorshift32), so the inputs, and thus every store path, are the same on every run. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function writeInputs(dir: string): void {
  mkdirSync(join(dir, 'include'), { recursive: true });
  writeFileSync(join(dir, 'kernel'), noise(96 * 1024 + 123, 1));
  const text = Array.from({ length: 4000 }, (_, i) => `vmlinux line ${i} ${i % 7 === 0 ? 'syscall' : 'irq'}\n`).join('');
  writeFileSync(join(dir, 'vmlinux.bin'), Buffer.concat([Buffer.from(text), noise(30_000, 2)]));
  writeFileSync(join(dir, 'dt.img'), Buffer.concat([Buffer.from('QCDT'), noise(4092, 3)]));
  const dtsi = '/ {\n\tcompatible = "imgkit,test";\n\t#address-cells = <1>;\n\t#size-cells = <1>;\n\tmemory@0 { device_type = "memory"; reg = <0x0 RAM_SIZE>; };\n};\n';
  writeFileSync(join(dir, 'include', 'board.dtsi'), dtsi);
  writeFileSync(join(dir, 'board.dts'), '/dts-v1/;\n#define RAM_SIZE 0x4000000\n#include "board.dtsi"\n/ {\n\tmodel = "imgkit test board";\n\tchosen { stdout-path = "serial0"; };\n};\n');
  // An early cpio (microcode) for `prepend`, written by hand: one directory chain and one file, newc.
  const entries: [string, number, Uint8Array][] = [
    ['kernel', 0o40755, new Uint8Array()], ['kernel/x86', 0o40755, new Uint8Array()],
    ['kernel/x86/microcode', 0o40755, new Uint8Array()], ['kernel/x86/microcode/GenuineIntel.bin', 0o100644, noise(1000, 4)],
    ['TRAILER!!!', 0, new Uint8Array()],
  ];
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  for (const [name, mode, data] of entries) {
    const hex = (v: number) => v.toString(16).toUpperCase().padStart(8, '0');
    const fields = [name === 'TRAILER!!!' ? 0 : ino++, mode, 0, 0, mode & 0o40000 ? 2 : 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
    const head = Buffer.from(`070701${fields.map(hex).join('')}${name}\0`);
    parts.push(head, pad(head.length), Buffer.from(data), pad(data.length));
  }
  const cpio = Buffer.concat(parts);
  writeFileSync(join(dir, 'early.cpio'), Buffer.concat([cpio, pad(cpio.length)]));
}

const ALWAYS = ['imgkit', 'app', 'message', 'closure', 'initrdGzip', 'initrdXz', 'initrdUImage', 'squashfsXz', 'squashfsPlain',
  'dtbPlain', 'dtb', 'bootimgPotter', 'bootimgSdm845', 'bootimgV2', 'uimageNixwrt', 'uimageVendor', 'uimageGzip', 'fitIts'];
/** Builders whose CLI may not exist yet: built only when the probe succeeds. */
const PROBES: Record<string, string[]> = { fit: [bin('uimage'), 'fit', '--help'] };
const ready = (attr: string) => {
  const p = PROBES[attr];
  return p === undefined || spawnSync(p[0]!, p.slice(1)).status === 0;
};

describe('nix builders under nix-build (plain derivation, offline)', { skip: skipWithout(...NIX_TOOLS) }, () => {
  let work = '';
  let inputs = '';
  const attrs = [...ALWAYS, ...Object.keys(PROBES).filter(ready)];
  const images = attrs.filter((a) => a !== 'imgkit');
  const out: Record<string, string> = {};
  let imgkitStorePath = '';
  const nixArgs = () => [join(repo, 'test/nix/harness.nix'), '--arg', 'repo', repo, '--arg', 'inputs', inputs,
    '--argstr', 'node', process.execPath, '--no-out-link', ...NIX_OPTS,
    ...(imgkitStorePath ? ['--argstr', 'imgkitStorePath', imgkitStorePath] : [])];
  const build = (names: string[], extra: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync('nix-build', [...nixArgs(), ...extra, ...names.flatMap((a) => ['-A', a])], { encoding: 'utf8', env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`nix-build failed:\n${r.stderr}`);
    return { paths: r.stdout.trim().split('\n'), log: r.stderr };
  };
  const file = (attr: string, sub = '') => readFileSync(join(out[attr]!, sub));
  const store = (attr: string) => out[attr]!;

  before(() => {
    requireTools(...NIX_TOOLS);
    work = tempDir('imgkit-nix-');
    inputs = join(work, 'inputs');
    writeInputs(inputs);
    // imgkit first, once: every later evaluation reuses that store path (see harness.nix).
    imgkitStorePath = out.imgkit = build(['imgkit']).paths[0]!;
    const { paths } = build(images);
    assert.equal(paths.length, images.length);
    images.forEach((a, i) => (out[a] = paths[i]!));
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  it('packages the checkout: the store imgkit runs', () => {
    sh(`${q(store('imgkit'))}/bin/imgkit --help`);
    for (const t of ['bootimg', 'uimage', 'fdt', 'initramfs', 'squashfs']) sh(`${q(store('imgkit'))}/bin/${t} --help`);
  });

  describe('makeInitrd', () => {
    let stage = '';
    const cpioVersion = () => Number((/(\d+\.\d+)/.exec(sh('cpio --version').toString()) ?? ['', '0'])[1]);
    /** The CLI run directly on the same tree: `find * | sort -z | initramfs pack -0 --mtime 1 FLAGS`. */
    const ours = (flags: string) => sh(`cd root && find * -print0 | LC_ALL=C sort -z | ${q(bin('initramfs'))} pack -0 --mtime 1 ${flags} -o -`, { cwd: stage });
    /** nixpkgs' make-initrd.sh pipeline (the tree was touched to mtime 1 in before()). */
    const gnu = (compress = '') => sh(`cd root && find * -print0 | LC_ALL=C sort -z | cpio --quiet -o -H newc -R +0:+0 --reproducible --null ${compress}`, { cwd: stage });
    // GNU cpio < 2.14 writes the real nlink of directories; nixpkgs' cpio (2.15) and imgkit's default write 2.
    const nlink = () => (cpioVersion() < 2.14 ? '--dir-nlink stat' : '');

    before(() => {
      // The tree make-initrd builds: dev sys proc, the symlinks, the closure copied with cp -prd --parents.
      stage = join(work, 'initrd');
      mkdirSync(stage);
      const app = store('app');
      sh(`mkdir root root/dev root/sys root/proc root/sbin && ln -s ${q(app)}/bin/init root/init && ln -s ${q(app)} root/sbin/app
          # cp -prd --parents, as the builder runs it, with the parents' modes set explicitly: on some
          # file systems (gVisor) cp's chmod of the parents it creates has no effect.
          mkdir -p root/nix/store && chmod "$(stat -c %a /nix)" root/nix && chmod "$(stat -c %a /nix/store)" root/nix/store
          for p in $(nix-store -qR ${q(app)}); do cp -prd "$p" root/nix/store/; done
          (cd root && find * -exec touch -h -d @1 {} +)`, { cwd: stage });
    });

    it('gzip (the default): the CLI gives the same bytes; GNU cpio the same archive', { skip: skipWithout('cpio') }, () => {
      assert.deepEqual(file('initrdGzip', 'initrd'), ours('--compress gzip'));
      assert.equal(sh(`readlink ${q(store('initrdGzip'))}/initrd.gz`).toString().trim(), 'initrd');
      assert.deepEqual(gunzipSync(file('initrdGzip', 'initrd')), ours('--compress none'));
      // gzip streams differ between deflate implementations; the archive must not.
      assert.deepEqual(ours(`${nlink()} --compress none`), gnu());
    });

    it('xz with an early cpio prepended: byte-identical to cat early.cpio + cpio | xz --check=crc32 --lzma2=dict=512KiB', { skip: skipWithout('cpio', 'xz') }, () => {
      const early = join(inputs, 'early.cpio');
      assert.deepEqual(file('initrdXz', 'initrd'), ours(`--prepend ${q(early)} --compress xz`));
      const ref = Buffer.concat([readFileSync(early), gnu('| xz --check=crc32 --lzma2=dict=512KiB')]);
      assert.deepEqual(ours(`${nlink()} --prepend ${q(early)} --compress xz`), ref);
    });

    it('makeUInitrd: a ramdisk uImage identical to mkimage -T ramdisk over the same cpio', { skip: skipWithout('mkimage') }, () => {
      assert.equal(sh(`readlink ${q(store('initrdUImage'))}/initrd`).toString().trim(), 'initrd.img');
      const zst = join(work, 'initrd.zst');
      writeFileSync(zst, ours('--compress zstd'));
      const env = { SOURCE_DATE_EPOCH: EPOCH };
      sh(`${q(bin('uimage'))} pack -q -A arm64 -O linux -T ramdisk -C zstd -d ${q(zst)} cli.img && mkimage -A arm64 -O linux -T ramdisk -C zstd -d ${q(zst)} ref.img >/dev/null`, { cwd: work, env });
      assert.deepEqual(file('initrdUImage', 'initrd.img'), readFileSync(join(work, 'cli.img')));
      assert.deepEqual(file('initrdUImage', 'initrd.img'), readFileSync(join(work, 'ref.img')));
    });
  });

  describe('makeSquashfs', () => {
    const FLAGS = '-no-hardlinks -keep-as-directory -all-root -b 1048576';
    /** make-squashfs.nix's command line, in a folder holding nix-path-registration. */
    const pack = (tool: string, comp: string, name: string) => {
      const dir = join(work, `sq-${name}`);
      mkdirSync(dir, { recursive: true });
      sh(`cp ${q(join(store('closure'), 'registration'))} nix-path-registration`, { cwd: dir });
      const paths = readFileSync(join(store('closure'), 'store-paths'), 'utf8').trim().split('\n').map(q).join(' ');
      sh(`${tool} nix-path-registration ${paths} ${name}.img ${FLAGS} -comp ${comp} -processors 1 -root-mode 0755 -quiet >/dev/null`, { cwd: dir, env: { SOURCE_DATE_EPOCH: EPOCH } });
      return join(dir, `${name}.img`);
    };

    it('closureInfo: store-paths and registration list the closure', () => {
      const paths = readFileSync(join(store('closure'), 'store-paths'), 'utf8').trim().split('\n');
      assert.deepEqual(paths, sh(`nix-store -qR ${q(store('app'))}`).toString().trim().split('\n').sort());
      const reg = readFileSync(join(store('closure'), 'registration'), 'utf8');
      assert.match(reg, new RegExp(`^${store('message')}\nsha256:[0-9a-z]{52}\n\\d+\n\n0\n`));
    });

    it('uncompressed metadata and data: byte-identical to the CLI and to mksquashfs', { skip: skipWithout('mksquashfs') }, () => {
      const comp = 'gzip -noI -noD -noF -noX';
      assert.deepEqual(file('squashfsPlain'), readFileSync(pack(q(bin('squashfs')) + ' pack', comp, 'cli-plain')));
      assert.deepEqual(file('squashfsPlain'), readFileSync(pack('mksquashfs', comp, 'ref-plain')));
    });

    it('xz (the default): byte-identical to the CLI; mksquashfs gives the same tree', { skip: skipWithout('mksquashfs', 'unsquashfs') }, () => {
      const comp = 'xz -Xdict-size 100%';
      assert.deepEqual(file('squashfsXz'), readFileSync(pack(q(bin('squashfs')) + ' pack', comp, 'cli-xz')));
      const ref = pack('mksquashfs', comp, 'ref-xz');
      const list = (img: string) => sh(`unsquashfs -lln ${q(img)} | tail -n +2`, { env: { TZ: 'UTC' } }).toString();
      assert.equal(list(store('squashfsXz')), list(ref));
      sh(`unsquashfs -q -no-xattrs -d a ${q(store('squashfsXz'))} >/dev/null && unsquashfs -q -no-xattrs -d b ${q(ref)} >/dev/null && diff -r --no-dereference a b`, { cwd: join(work, 'sq-ref-xz') });
    });
  });

  describe('compileDtb', () => {
    const inc = () => join(inputs, 'include');
    const dts = () => join(inputs, 'board.dts');
    const bootargs = 'console=ttyS0,115200 root=/dev/mtdblock2 rootfstype=squashfs';
    /** NixWRT's build-fdt.nix: cpp, optionally a /chosen/bootargs node appended, then dtc. */
    const nixwrt = (append: boolean) => {
      sh(`cpp -nostdinc -x assembler-with-cpp -I ${q(inc())} -undef -D__DTS__ -o dtb.tmp ${q(dts())}
          ${append ? `echo '/{ chosen { bootargs = ${JSON.stringify(bootargs)}; }; };' >> dtb.tmp` : ''}
          dtc -q -O dtb -i ${q(inc())} -o ref.dtb dtb.tmp`, { cwd: work });
      return readFileSync(join(work, 'ref.dtb'));
    };

    it('same bytes as `fdt compile` run directly, and as cpp + dtc', { skip: skipWithout('cpp', 'dtc') }, () => {
      sh(`${q(bin('fdt'))} compile --cpp -I dts -O dtb -i ${q(inc())} -o cli.dtb ${q(dts())}`, { cwd: work });
      assert.deepEqual(file('dtbPlain'), readFileSync(join(work, 'cli.dtb')));
      assert.deepEqual(file('dtbPlain'), nixwrt(false));
    });

    it('commandLine: /chosen/bootargs appended as NixWRT does', { skip: skipWithout('cpp', 'dtc') }, () => {
      assert.deepEqual(file('dtb'), nixwrt(true));
    });
  });

  describe('makeBootImage', () => {
    const k = () => join(inputs, 'kernel');
    const potter = '--base 0x80000000 --kernel_offset 0x00008000 --second_offset 0x00f00000 --ramdisk_offset 0x01000000 --tags_offset 0x00000100 --pagesize 2048';
    const sdm845 = '--base 0x00000000 --kernel_offset 0x00008000 --second_offset 0x00000000 --ramdisk_offset 0x01000000 --tags_offset 0x00000100 --pagesize 4096';
    const img = (cmd: string) => {
      sh(`${cmd} -o boot.img`, { cwd: work });
      return readFileSync(join(work, 'boot.img'));
    };

    it('mobile-nixos potter with a QCDT dt.img: the CLI (--compat osm0sis) gives the same bytes; abootimg reads it', { skip: skipWithout('abootimg') }, () => {
      const rd = join(store('initrdGzip'), 'initrd');
      const cli = img(`${q(bin('bootimg'))} pack --compat osm0sis --kernel ${q(k())} --dt ${q(join(inputs, 'dt.img'))} --ramdisk ${q(rd)} --cmdline 'console=tty0 androidboot.hardware=qcom' ${potter}`);
      assert.deepEqual(file('bootimgPotter'), cli);
      // Debian's unpack_bootimg cannot decode the id of a --dt image as UTF-8; abootimg reads v0 headers.
      const cfg = sh(`rm -rf unp && mkdir unp && cd unp && abootimg -x ${q(store('bootimgPotter'))} cfg k r >/dev/null && cmp k ${q(k())} && cmp r ${q(rd)} && cat cfg`, { cwd: work }).toString();
      assert.match(cfg, /pagesize = 0x800/);
      assert.match(cfg, /kerneladdr = 0x80008000/);
      assert.match(cfg, /secondaddr = 0x80f00000/);
      assert.match(cfg, /cmdline = console=tty0 androidboot.hardware=qcom/);
    });

    it('sdm845 with appendDTB: byte-identical to mkbootimg over kernel + dtb', { skip: skipWithout('mkbootimg') }, () => {
      writeFileSync(join(work, 'kernel-with-dtbs'), Buffer.concat([readFileSync(k()), file('dtb')]));
      const args = `--kernel kernel-with-dtbs --ramdisk ${q(join(store('initrdXz'), 'initrd'))} --cmdline 'console=ttyMSM0,115200n8' ${sdm845}`;
      assert.deepEqual(file('bootimgSdm845'), img(`${q(bin('bootimg'))} pack --compat osm0sis ${args}`));
      assert.deepEqual(file('bootimgSdm845'), img(`mkbootimg ${args}`));
    });

    it('header v2 with a DTB: byte-identical to mkbootimg --header_version 2', { skip: skipWithout('mkbootimg') }, () => {
      const args = `--kernel ${q(k())} --header_version 2 --dtb ${q(store('dtb'))} --ramdisk ${q(join(store('initrdXz'), 'initrd'))} --cmdline '' --base 0x80000000 --pagesize 4096`;
      assert.deepEqual(file('bootimgV2'), img(`${q(bin('bootimg'))} pack ${args}`));
      assert.deepEqual(file('bootimgV2'), img(`mkbootimg ${args}`));
    });
  });

  describe('makeUImage', () => {
    const vm = () => join(inputs, 'vmlinux.bin');
    const env = { SOURCE_DATE_EPOCH: EPOCH };
    const uimage = (flags: string, data: string) => {
      sh(`${flags.startsWith('mkimage') ? '' : `${q(bin('uimage'))} pack -q `}${flags} -d ${q(data)} u.img >/dev/null`, { cwd: work, env });
      return readFileSync(join(work, 'u.img'));
    };
    const mips = (entry: string) => `-A mips -O linux -T kernel -C lzma -a 0x80060000 -e ${entry} -n 'MIPS NixWrt Linux'`;

    it('NixWRT (lzma -k -z, then mkimage -C lzma): byte-identical to lzma + mkimage and to the CLI', { skip: skipWithout('mkimage', 'lzma') }, () => {
      sh(`lzma -z -c ${q(vm())} > k.lzma`, { cwd: work });
      assert.deepEqual(file('uimageNixwrt'), uimage(`mkimage ${mips('0x80060000')}`, join(work, 'k.lzma')));
      assert.deepEqual(file('uimageNixwrt'), uimage(`${mips('0x80060000')} --compress lzma --unknown-size`, vm()));
    });

    it('vendor U-Boot LZMA (lc1 lp2 pb2, 1 MiB, real size): same stream as xz --format=lzma but for the size field', { skip: skipWithout('mkimage', 'xz') }, () => {
      const cli = uimage(`${mips('0x80060400')} --compress lzma --lc 1 --lp 2 --pb 2 --dict 1MiB`, vm());
      assert.deepEqual(file('uimageVendor'), cli);
      sh(`${q(bin('imgkit'))} compress --format lzma --lc 1 --lp 2 --pb 2 --dict 1MiB ${q(vm())} -o v.lzma`, { cwd: work });
      assert.deepEqual(file('uimageVendor'), uimage(`mkimage ${mips('0x80060400')}`, join(work, 'v.lzma')));
      const lz = file('uimageVendor').subarray(64);
      assert.equal(lz[0], 0x6d);
      assert.equal(lz.readBigUInt64LE(5), BigInt(readFileSync(vm()).length));
      const ref = sh(`xz --format=lzma --lzma1=lc=1,lp=2,pb=2,dict=1MiB -c ${q(vm())}`);
      assert.deepEqual(lz.subarray(13), ref.subarray(13));
    });

    it('gzip for the QEMU U-Boot: the CLI gives the same bytes; mkimage -l reads it; the payload inflates to the kernel', { skip: skipWithout('mkimage') }, () => {
      assert.deepEqual(file('uimageGzip'), uimage(`-A mips -O linux -T kernel -C gzip -a 0x80000000 -e 0x80000000 -n 'QEMU Malta' --compress gzip`, vm()));
      assert.match(sh(`mkimage -l ${q(store('uimageGzip'))}`).toString(), /QEMU Malta[\s\S]*gzip compressed/);
      assert.deepEqual(gunzipSync(file('uimageGzip').subarray(64)), readFileSync(vm()));
    });
  });

  describe('makeFitImage', () => {
    it('the generated .its compiles with mkimage -f into a FIT with kernel, fdt and ramdisk', { skip: skipWithout('mkimage', 'dtc') }, () => {
      sh(`mkimage -f ${q(store('fitIts'))} ref.itb >/dev/null`, { cwd: work, env: { SOURCE_DATE_EPOCH: EPOCH } });
      const list = sh(`mkimage -l ref.itb`, { cwd: work }).toString();
      for (const node of ['kernel-1', 'fdt-1', 'ramdisk-1', 'conf-1']) assert.match(list, new RegExp(node));
    });

    it('the image: the CLI (uimage fit) gives the same bytes; mkimage -l lists the same image', { skip: !attrs.includes('fit') && '`uimage fit` is not available yet' }, () => {
      sh(`${q(bin('uimage'))} fit -f ${q(store('fitIts'))} cli.itb >/dev/null`, { cwd: work, env: { SOURCE_DATE_EPOCH: EPOCH } });
      assert.deepEqual(file('fit'), readFileSync(join(work, 'cli.itb')));
      if (has('mkimage')) {
        sh(`mkimage -f ${q(store('fitIts'))} ref.itb >/dev/null`, { cwd: work, env: { SOURCE_DATE_EPOCH: EPOCH } });
        const list = (f: string) => sh(`mkimage -l ${q(f)}`).toString().replace(/^FIT description.*$/m, '');
        assert.equal(list(store('fit')), list(join(work, 'ref.itb')));
      }
    });
  });

  it('a second build is a no-op: same store paths, nothing built', () => {
    const again = build(images);
    assert.deepEqual(again.paths, images.map((a) => out[a]));
    assert.doesNotMatch(again.log, /will be built|building '/);
  });

  it('reproducible: nix-build --check from another TMPDIR rebuilds the same bytes', () => {
    const tmp = join(work, 'check-tmp');
    mkdirSync(tmp);
    build(images, ['--check'], { TMPDIR: tmp });
  });

  it('the README example parses and evaluates (its derivations instantiate without nixpkgs)', () => {
    const example = join(repo, 'nix/examples/readme-example.nix');
    sh(`nix-instantiate --parse ${q(example)} >/dev/null`);
    const expr = `let h = import ${join(repo, 'test/nix/harness.nix')} { repo = ${repo}; inputs = ${inputs}; node = "${process.execPath}"; imgkitStorePath = "${imgkitStorePath}"; };
      ex = import ${example} { pkgs = throw "nixpkgs is not used when every argument is given"; imgkitLib = h.lib; kernel = "\${h.inputs}/kernel"; busybox = h.app; };
      in map (d: d.drvPath) [ ex.initrd ex.bootImage ex.uImage ex.rootfs ]`;
    const drvs = JSON.parse(sh(`nix-instantiate --eval --strict --json ${NIX_OPTS.map(q).join(' ')} -E ${q(expr)}`).toString()) as string[];
    assert.equal(drvs.length, 4);
    for (const d of drvs) assert.match(d, /^\/nix\/store\/[0-9a-z]{32}-.*\.drv$/);
  });

  it('nix/package.nix and nix/default.nix parse; package.nix evaluates against stub nixpkgs functions', () => {
    for (const f of ['package.nix', 'default.nix', 'plain.nix', 'lib/default.nix']) sh(`nix-instantiate --parse ${q(join(repo, 'nix', f))} >/dev/null`);
    const expr = `import ${join(repo, 'nix/package.nix')} {
      lib = { importJSON = f: builtins.fromJSON (builtins.readFile f); fileset = { toSource = a: "src"; unions = l: l; };
              licenses.mit = "mit"; platforms.unix = [ ]; };
      buildNpmPackage = a: a; importNpmLock = { __functor = self: a: "deps"; npmConfigHook = "hook"; };
      nodejs_20 = "node"; python3 = "python3"; xz = "xz"; pkg-config = "pkg-config"; }`;
    const pkg = JSON.parse(sh(`nix-instantiate --eval --strict --json -E ${q(expr)}`).toString()) as Record<string, unknown>;
    const json = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string };
    assert.equal(pkg.pname, json.name);
    assert.equal(pkg.version, json.version);
    assert.equal(pkg.npmBuildScript, 'build');
    // every launcher gets this Node; bin/package.json is not a launcher
    for (const t of ['imgkit', 'bootimg', 'uimage', 'fdt', 'initramfs', 'squashfs']) assert.match(String(pkg.postInstall), new RegExp(`\\b${t}\\b`));
    assert.doesNotMatch(String(pkg.postInstall), /bin\/\*/);
  });
});
