/** `bootimg`: Android boot.img, vendor_boot.img and init_boot.img — pack, unpack, repack, info. */
import type { StreamPayload } from '../bytes/payload.js';
import type { RandomAccess } from '../bytes/random.js';
import type { BootImageOptions, Compat, VendorBootOptions, VendorRamdiskFragment } from '../bootimg/build.js';
import type { Manifest } from '../bootimg/manifest.js';
import { parseIntAuto, runMain, UsageError } from './run.js';

const HELP = `Usage: bootimg <command> [options]

Commands:
  pack [mkbootimg options] -o OUT     build a boot.img (and/or --vendor_boot OUT)
  unpack IMG -o DIR                   write every blob and bootimg.json into DIR
  repack DIR -o OUT                   rebuild an unpacked image byte for byte
  info IMG [--json]                   header fields, compression, appended DTBs, AVB footer, id check

Run 'bootimg <command> --help' for the options of one command.
`;

const PACK_HELP = `Usage: bootimg pack [options] -o OUT [--vendor_boot VOUT]

Takes AOSP mkbootimg's options, names and defaults:
  --kernel FILE             kernel (required, except for a header v4 init_boot.img)
  --ramdisk FILE            ramdisk
  --second FILE             second-stage bootloader (header v0-v2)
  --dtb FILE                device tree blob (header v2, vendor_boot)
  --recovery_dtbo FILE      recovery DTBO (header v1, v2); --recovery_acpio is the same
  --dt FILE                 legacy QCDT/Exynos dt.img (header v0, as osm0sis mkbootimg)
  --cmdline STR             kernel command line
  --vendor_cmdline STR      vendor kernel command line (vendor_boot)
  --base ADDR               base address (default 0x10000000)
  --kernel_offset OFF       (default 0x00008000)
  --ramdisk_offset OFF      (default 0x01000000)
  --second_offset OFF       (default 0x00f00000)
  --dtb_offset OFF          (default 0x01f00000)
  --tags_offset OFF         (default 0x00000100)
  --os_version A.B.C        operating system version
  --os_patch_level Y-M      operating system patch level
  --board NAME              board (product) name
  --pagesize N              2048 (default), 4096, 8192, 16384; header v3/v4 boot images use 4096
  --header_version N        0 (default) to 4
  --hashtype sha1|sha256    how the id of a v0-v2 header is computed (default sha1)
  --id                      print the image id on standard output
  -o, --output FILE         the boot image to write
  --vendor_boot FILE        the vendor_boot image to write (header v3, v4)
  --vendor_ramdisk FILE     the vendor ramdisk
  --vendor_bootconfig FILE  the bootconfig (vendor_boot v4)
  --ramdisk_type T --ramdisk_name N [--board_id0..15 V] --vendor_ramdisk_fragment FILE
                            one more vendor ramdisk (vendor_boot v4); repeat the group for each
  --compat aosp|debian29|osm0sis
                            whose rules to follow: current AOSP mkbootimg (default), Debian's
                            mkbootimg 29.0.6, or osm0sis' C mkbootimg (mobile-nixos)
Numbers take 0x hex or decimal (osm0sis: addresses are hex, with or without 0x).
The output is written under a temporary name and renamed when complete.
`;

const UNPACK_HELP = `Usage: bootimg unpack IMG -o DIR [--format info|mkbootimg] [-0]

Writes kernel, ramdisk (always), second, dt, recovery_dtbo, dtb, boot_signature, vendor_ramdisk
(vendor_ramdiskNN for each v4 table entry), bootconfig, tail (any data after the last section:
AVB footer, SEANDROIDENFORCE, padding) and bootimg.json (every header field) into DIR.
  -o, --out DIR         output folder (default: out); --boot_img IMG is accepted too
  --format info         print the header fields (default)
  --format mkbootimg    print the mkbootimg arguments that rebuild the image
  -0, --null            with --format mkbootimg: separate arguments with NUL
`;

const REPACK_HELP = `Usage: bootimg repack DIR -o OUT

Rebuilds the image described by DIR/bootimg.json from the files next to it. An unmodified folder
gives back the original image byte for byte; edited blobs get correct sizes and id.
`;

const INFO_HELP = `Usage: bootimg info IMG [--json]

Prints the header fields, the compression of kernel and ramdisk, MTK headers, appended DTBs,
trailing data (AVB footer, SEANDROIDENFORCE) and whether the stored id matches the content.
`;

/** Splits argv into options and positionals; `--opt=value` and `--opt value` both work. */
function tokens(argv: string[], flags: ReadonlySet<string>): { opts: [string, string][]; pos: string[] } {
  const opts: [string, string][] = [];
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const name = eq > 0 && a.startsWith('--') ? a.slice(0, eq) : a;
      if (flags.has(name)) {
        if (eq > 0 && a.startsWith('--')) throw new UsageError(`option ${name} takes no value`);
        opts.push([name, '']);
        continue;
      }
      if (eq > 0 && a.startsWith('--')) opts.push([name, a.slice(eq + 1)]);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`option ${a} needs a value`);
        opts.push([a, argv[++i]!]);
      }
    } else pos.push(a);
  }
  return { opts, pos };
}

const PACK_VALUE = new Set([
  '--kernel', '--ramdisk', '--second', '--dtb', '--recovery_dtbo', '--recovery_acpio', '--dt', '--cmdline', '--vendor_cmdline',
  '--base', '--kernel_offset', '--ramdisk_offset', '--second_offset', '--dtb_offset', '--tags_offset', '--os_version',
  '--os_patch_level', '--board', '--pagesize', '--header_version', '--hashtype', '-o', '--output', '--vendor_boot',
  '--vendor_ramdisk', '--vendor_bootconfig', '--ramdisk_type', '--ramdisk_name', '--vendor_ramdisk_fragment', '--compat',
  ...Array.from({ length: 16 }, (_, i) => `--board_id${i}`),
]);

/** strtoul(s, 0, 16) as osm0sis mkbootimg parses addresses: hex with or without 0x; stops at the first non-hex character. */
function parseHexLoose(s: string): number {
  const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)/.exec(s);
  return m ? Math.min(parseInt(m[1]!, 16), 2 ** 32 - 1) : 0;
}

async function pack(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(PACK_HELP), 0;
  const { opts, pos } = tokens(argv, new Set(['--id']));
  if (pos.length) throw new UsageError(`unexpected argument '${pos[0]}'`);
  const compatOpt = opts.findLast(([k]) => k === '--compat')?.[1] ?? 'aosp';
  if (!['aosp', 'debian29', 'osm0sis'].includes(compatOpt)) throw new UsageError(`--compat must be aosp, debian29 or osm0sis, not '${compatOpt}'`);
  const compat = compatOpt as Compat;
  const o: Record<string, string> = {};
  const fragments: { type?: string; name?: string; boardId: number[]; file: string }[] = [];
  let group: { type?: string; name?: string; boardId: number[] } = { boardId: [] };
  let printId = false;
  const num = (k: string, v: string) => (compat === 'osm0sis' && k !== '--pagesize' && k !== '--header_version' ? parseHexLoose(v) : parseIntAuto(v, k));
  for (const [k, v] of opts) {
    if (k === '--id') printId = true;
    else if (!PACK_VALUE.has(k)) throw new UsageError(`unrecognized option '${k}'`);
    else if (k === '--ramdisk_type') group.type = v;
    else if (k === '--ramdisk_name') group.name = v;
    else if (k.startsWith('--board_id')) group.boardId[Number(k.slice(10))] = parseIntAuto(v, k);
    else if (k === '--vendor_ramdisk_fragment') {
      if (group.name === undefined) throw new UsageError('--vendor_ramdisk_fragment needs a --ramdisk_name before it');
      fragments.push({ ...group, file: v });
      group = { boardId: [] };
    } else o[k === '--recovery_acpio' ? '--recovery_dtbo' : k === '--output' ? '-o' : k] = v;
  }
  if (group.name !== undefined || group.type !== undefined || group.boardId.length)
    throw new UsageError('--ramdisk_type/--ramdisk_name/--board_idN must be followed by --vendor_ramdisk_fragment');
  const out = o['-o'];
  const vout = o['--vendor_boot'];
  if (!out && !vout) throw new UsageError('nothing to write: give -o/--output and/or --vendor_boot');
  // each command loads only the modules it uses: start-up is a large part of a run
  const [{ filePayload }, { withOutputFile }, { writeBootImage }, { buildBootImage, buildVendorBootImage }] = await Promise.all([
    import('../bytes/payload.js'), import('../bytes/sink.js'), import('../bootimg/write.js'), import('../bootimg/build.js'),
  ]);
  const file = async (k: string) => (o[k] === undefined ? undefined : filePayload(o[k]!));
  const n = (k: string) => (o[k] === undefined ? undefined : num(k, o[k]!));
  const headerVersion = n('--header_version') ?? 0;
  const addrs = {
    ...(n('--base') !== undefined && { base: n('--base')! }),
    ...(n('--kernel_offset') !== undefined && { kernelOffset: n('--kernel_offset')! }),
    ...(n('--ramdisk_offset') !== undefined && { ramdiskOffset: n('--ramdisk_offset')! }),
    ...(n('--second_offset') !== undefined && { secondOffset: n('--second_offset')! }),
    ...(n('--tags_offset') !== undefined && { tagsOffset: n('--tags_offset')! }),
    ...(n('--dtb_offset') !== undefined && { dtbOffset: n('--dtb_offset')! }),
  };
  const pageSize = n('--pagesize');
  const hashType = o['--hashtype'];
  if (hashType !== undefined && hashType !== 'sha1' && hashType !== 'sha256') throw new UsageError(`--hashtype must be sha1 or sha256, not '${hashType}'`);
  const dtb = await file('--dtb');
  const str = (k: string) => (o[k] === undefined ? {} : { [k.slice(2).replace(/_(\w)/g, (_, c: string) => c.toUpperCase())]: o[k]! });
  if (vout) {
    const vo: VendorBootOptions<StreamPayload> = {
      headerVersion,
      compat,
      ...addrs,
      ...(pageSize !== undefined && { pageSize }),
      ...str('--vendor_cmdline'),
      ...str('--board'),
      vendorRamdisk: await file('--vendor_ramdisk'),
      dtb,
      bootconfig: await file('--vendor_bootconfig'),
      fragments: await Promise.all(
        fragments.map(async (f): Promise<VendorRamdiskFragment<StreamPayload>> => ({
          data: await filePayload(f.file),
          name: f.name!,
          boardId: Array.from({ length: 16 }, (_, i) => f.boardId[i] ?? 0),
          ...(f.type !== undefined && { type: /^\d|^0x/i.test(f.type) ? parseIntAuto(f.type, '--ramdisk_type') : (f.type as 'none') }),
        })),
      ),
    };
    const img = buildVendorBootImage(vo);
    await withOutputFile(vout, (sink) => writeBootImage(sink, img), { named: true });
  } else if (fragments.length) throw new UsageError('--vendor_ramdisk_fragment needs --vendor_boot');
  if (out) {
    const bo: BootImageOptions<StreamPayload> = {
      headerVersion,
      compat,
      ...addrs,
      ...(pageSize !== undefined && { pageSize }),
      ...(hashType !== undefined && { hashType }),
      ...str('--cmdline'),
      ...str('--board'),
      ...str('--os_version'),
      ...str('--os_patch_level'),
      kernel: await file('--kernel'),
      ramdisk: await file('--ramdisk'),
      second: await file('--second'),
      recoveryDtbo: await file('--recovery_dtbo'),
      dt: await file('--dt'),
      dtb,
      allowEmptyKernel: true,
    };
    const img = buildBootImage(bo);
    const id = await withOutputFile(out, (sink) => writeBootImage(sink, img), { named: true });
    if (printId && id) process.stdout.write('0x' + Buffer.from(id).toString('hex') + '\n');
  }
  return 0;
}

/**
 * `fileAccess`, except that large reads (the chunks blobs are copied in) reuse the memory of
 * chunks already written to a file (`releaseWhenWritten`): fresh memory costs a page fault per page.
 */
async function pooledFileAccess(path: string): Promise<RandomAccess> {
  const [{ handleAccess, openForReading }, { releaseWhenWritten }] = await Promise.all([import('../bytes/random.js'), import('../bytes/sink.js')]);
  const { fh, size } = await openForReading(path, 'r');
  const plain = handleAccess(fh, size, 'bootimg');
  const pools = new Map<number, Uint8Array[]>();
  return {
    size,
    async readAt(offset, length) {
      if (length < POOLED_READ || offset < 0 || offset + length > size) return plain.readAt(offset, length);
      const pool = pools.get(length) ?? pools.set(length, []).get(length)!;
      const buf = pool.pop() ?? new Uint8Array(length);
      for (let got = 0; got < length; ) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) return plain.readAt(offset, length); // raises the same TRUNCATED error
        got += bytesRead;
      }
      releaseWhenWritten(buf, () => pool.push(buf));
      return buf;
    },
    close: () => fh.close(),
    fd: fh.fd, // a blob can then be copied by the kernel (ByteSink.copyFrom)
  };
}
const POOLED_READ = 1 << 20;

async function openImage(path: string) {
  const [ra, { openBootImage }] = await Promise.all([pooledFileAccess(path), import('../bootimg/read.js')]);
  try {
    return { ra, img: await openBootImage(ra) };
  } catch (e) {
    await ra.close?.();
    throw e;
  }
}

async function unpack(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(UNPACK_HELP), 0;
  const { opts, pos } = tokens(argv, new Set(['-0', '--null']));
  let dir = 'out';
  let format = 'info';
  let nul = false;
  const imgs = [...pos];
  for (const [k, v] of opts) {
    if (k === '-o' || k === '--out' || k === '--output') dir = v;
    else if (k === '--boot_img') imgs.push(v);
    else if (k === '--format') format = v;
    else if (k === '-0' || k === '--null') nul = true;
    else throw new UsageError(`unrecognized option '${k}'`);
  }
  if (imgs.length !== 1) throw new UsageError('give exactly one image to unpack');
  if (format !== 'info' && format !== 'mkbootimg') throw new UsageError(`--format must be info or mkbootimg, not '${format}'`);
  const [{ ra, img }, { unpackBootImage }] = await Promise.all([openImage(imgs[0]!), import('../bootimg/unpack.js')]);
  try {
    const unpacking = unpackBootImage(img, dir);
    // what prints the result loads while the blobs are copied (after the copies are under way)
    const text = import('../bootimg/text.js');
    const inspect = format === 'info' ? import('../bootimg/inspect.js') : undefined;
    inspect?.catch(() => {});
    text.catch(() => {});
    await unpacking;
    const { formatInfo, mkbootimgArgs, shellQuote } = await text;
    if (format === 'mkbootimg') {
      const args = mkbootimgArgs(img, dir);
      process.stdout.write(nul ? args.map((a) => a + '\0').join('') : args.map(shellQuote).join(' ') + '\n');
    } else process.stdout.write(formatInfo(img, await (await inspect!).inspectImage(img, { appendedDtbs: false, checkId: false }), ra.size));
  } finally {
    await ra.close?.();
  }
  return 0;
}

async function repack(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(REPACK_HELP), 0;
  const { opts, pos } = tokens(argv, new Set());
  let out: string | undefined;
  for (const [k, v] of opts) {
    if (k === '-o' || k === '--output') out = v;
    else throw new UsageError(`unrecognized option '${k}'`);
  }
  if (pos.length !== 1) throw new UsageError('give exactly one unpacked folder');
  if (!out) throw new UsageError('give the output image with -o');
  const dir = pos[0]!;
  const [{ readInput }, { join }, { fromManifest, MANIFEST_NAME, ManifestError }, { withOutputFile }, { writeBootImage }] = await Promise.all([
    import('../bytes/input.js'), import('node:path'), import('../bootimg/manifest.js'), import('../bytes/sink.js'), import('../bootimg/write.js'),
  ]);
  const path = join(dir, MANIFEST_NAME);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await readInput(path, 'bootimg'))) as Manifest;
  } catch (e) {
    // one line: the parser quotes the text around the mistake, line ends included
    if (e instanceof SyntaxError) throw new ManifestError(`${path}: ${e.message.replace(/\s*[\r\n]+\s*/g, ' ')}`);
    throw e;
  }
  try {
    const img = await fromManifest(manifest, dir);
    await withOutputFile(out, (sink) => writeBootImage(sink, img), { named: true });
  } catch (e) {
    // what the manifest asks for and no image can hold (a header version, a page size, a cmdline too long)
    if (e instanceof RangeError || e instanceof TypeError) throw new ManifestError(`${path}: ${e.message}`);
    throw e;
  }
  return 0;
}

async function info(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(INFO_HELP), 0;
  const { opts, pos } = tokens(argv, new Set(['--json']));
  let json = false;
  for (const [k] of opts) {
    if (k === '--json') json = true;
    else throw new UsageError(`unrecognized option '${k}'`);
  }
  if (pos.length < 1) throw new UsageError('give an image');
  const [{ inspectImage }, { toManifest }, { formatInfo }] = await Promise.all([
    import('../bootimg/inspect.js'), import('../bootimg/manifest.js'), import('../bootimg/text.js'),
  ]);
  let first = true;
  for (const file of pos) {
    const { ra, img } = await openImage(file);
    try {
      const report = await inspectImage(img);
      if (json) {
        const { manifest } = toManifest(img, report.id);
        const sizes = Object.fromEntries(img.layout.sections.map((s) => [s.name, { offset: s.offset, size: s.size }]));
        process.stdout.write(JSON.stringify({ file, fileSize: ra.size, ...manifest, files: undefined, sections: sizes, report }, null, 2) + '\n');
      } else {
        if (pos.length > 1) process.stdout.write(`${first ? '' : '\n'}${file}:\n`);
        process.stdout.write(formatInfo(img, report, ra.size));
      }
    } finally {
      await ra.close?.();
    }
    first = false;
  }
  return 0;
}

runMain('bootimg', async (argv) => {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'pack':
      return pack(rest);
    case 'unpack':
      return unpack(rest);
    case 'repack':
      return repack(rest);
    case 'info':
      return info(rest);
    case undefined:
      process.stderr.write(HELP);
      return 2;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return 0;
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
});

