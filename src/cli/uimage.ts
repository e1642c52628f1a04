/**
 * `uimage`: U-Boot images — pack (mkimage's flags; `-f` for FIT), list (mkimage -l, CRCs and hashes
 * verified), extract (dumpimage -p), fit verify (hashes and signatures).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileAccess, type RandomAccess } from '../bytes/random.js';
import { filePayload, type Payload } from '../bytes/payload.js';
import { pipeInto, withOutputFile, writeFileAtomic } from '../bytes/sink.js';
import { HEADER_SIZE, multiOffsets } from '../uimage/layout.js';
import { writeLegacyImage } from '../uimage/legacy-write.js';
import { openLegacyImage } from '../uimage/legacy-read.js';
import { legacyJson, legacyListingBytes } from '../uimage/legacy-text.js';
import { MkimageError, mkimageSpec, sourceDateEpoch, splitDataArg } from '../uimage/mkimage.js';
import { TABLES, idOf, type Category } from '../uimage/tables.js';
import { IH_TYPE_MULTI, IH_TYPE_SCRIPT } from '../uimage/tables.js';
import { FitBuildError, buildFit, writeFit, type FitBuildOptions, type FitInput } from '../uimage/fit-write.js';
import { fitFromIts } from '../uimage/fit-model.js';
import { fitAuto } from '../uimage/fit-auto.js';
import { openFit, imageByName, type OpenedFit } from '../uimage/fit-read.js';
import { verifyFit, type FitVerification } from '../uimage/fit-verify.js';
import { fitJson, formatFitListing } from '../uimage/fit-text.js';
import { FitSignError } from '../uimage/fit-sign.js';
import { FormatError } from '../bytes/errors.js';
import { DtsError, FDT_MAGIC } from '../dtb/index.js';
import { compressOptions, COMPRESS_OPTION_HELP, COMPRESS_OPTIONS, compressBytes, type CompressFlags } from './compress.js';
import { parseIntAuto, runMain, UsageError, parseArgs } from './run.js';

const HELP = `Usage: uimage <command> [options]

Commands:
  pack [mkimage options] -d FILE[:FILE…] IMAGE   build a legacy uImage, as mkimage does
  pack -f IMAGE.its|auto [options] OUT.itb       build a FIT, as mkimage -f does (same as 'fit -f')
  fit -f IMAGE.its [-E -B N -p N -k DIR -K DTB -r] OUT.itb   build a FIT, byte for byte as mkimage 2023.01
  fit verify X.itb [-K KEY.dtb] [--config C]     check every hash and, with -K, every signature
  list IMG [--json] [--no-verify] [-K KEY.dtb]   what 'mkimage -l' prints, after checking CRCs or FIT hashes
  extract IMG [-p N | --image NAME] -o OUT       the data, file N of a multi-file image, or FIT image N (dumpimage -p)

Run 'uimage <command> --help' for the options of one command.
`;

const PACK_HELP = `Usage: uimage pack [options] -d FILE[:FILE…] IMAGE

Takes mkimage's options, names and defaults (U-Boot 2023.01):
  -A, --architecture ARCH   (default ppc)             -A list shows the names
  -O, --os OS               (default linux)           -O list
  -T, --type TYPE           (default kernel)          -T list; legacy types (FIT: -f, see 'uimage fit --help')
  -C, --compression COMP    (default gzip) what the header says; the data is not compressed unless --compress
  -a, --load-address ADDR   load address, hex with or without 0x (default 0)
  -e, --entry-point ADDR    entry point, hex (default: the load address, +0x40 with -x)
  -n, --name NAME           image name; cut at 32 bytes (--config is accepted too, as mkimage's long name)
  -d, --image FILE[:FILE…]  the data; for -T multi and -T script, the files of a multi-file image
  -x, --xip                 execute in place: the input starts with 64 bytes of 0xff, which the header replaces
  -s, --no-copy             write the header only
  -q, --quiet               do not print the listing afterwards
  --compress FORMAT         compress the -d file first (gzip, lzma, zstd, lz4, bzip2, lzo, xz) and set -C to match
${COMPRESS_OPTION_HELP}
ih_time is SOURCE_DATE_EPOCH when set (as mkimage), otherwise now. The image is written under a
temporary name and renamed when complete; then the listing is printed, as mkimage does.
`;

const LIST_HELP = `Usage: uimage list IMG [--json] [--no-verify] [--base ADDR]

Prints what 'TZ=UTC mkimage -T <type> -l IMG' prints, after checking the header and data CRCs (a bad
CRC is an error, exit 1, unless --no-verify). Script images show "Offset = " as the address of each
file when the image is loaded at --base (default 0); mkimage prints an address in its own memory there.
`;

const EXTRACT_HELP = `Usage: uimage extract IMG [-p N] -o OUT [--no-verify]

Writes the data of IMG to OUT, or file N (from 0) of a multi-file image, as 'dumpimage -T multi -p N -o OUT IMG'
(a script image is written whole, size table included, as dumpimage does).
Both CRCs are checked first (exit 1 on a mismatch) unless --no-verify.
`;

/** -a / -e: strtoull(…, 16) as mkimage, but values past 32 bits are refused rather than cut. */
function parseHexAddr(s: string, what: string): number {
  const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)$/.exec(s);
  if (!m) throw new UsageError(`invalid ${what} '${s}' (hex, with or without 0x)`);
  const v = parseInt(m[1]!, 16);
  if (v > 0xffff_ffff) throw new UsageError(`${what} '${s}' does not fit in 32 bits`);
  return v;
}

/** mkimage's show_valid_options(): one row per value (its first name), sorted by name. */
function listTable(category: Category): string {
  const seen = new Set<number>();
  const rows = TABLES[category].filter((e) => !seen.has(e.id) && seen.add(e.id)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return rows.map((e) => `\t${e.name.padEnd(15)}  ${e.long}\n`).join('');
}

function enumArg(category: Category, flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const id = idOf(category, v);
  if (id === undefined) throw new UsageError(`invalid ${flag} '${v}'; valid names:\n${listTable(category).trimEnd()}`);
  return id;
}

const COMP_OF_CODEC: Record<string, string> = { gzip: 'gzip', lzma: 'lzma', zstd: 'zstd', lz4: 'lz4', bzip2: 'bzip2', lzo: 'lzo' };

async function pack(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      architecture: { type: 'string', short: 'A' },
      os: { type: 'string', short: 'O' },
      type: { type: 'string', short: 'T' },
      compression: { type: 'string', short: 'C' },
      'load-address': { type: 'string', short: 'a' },
      'entry-point': { type: 'string', short: 'e' },
      name: { type: 'string', short: 'n' },
      config: { type: 'string' },
      image: { type: 'string', short: 'd' },
      xip: { type: 'boolean', short: 'x' },
      'no-copy': { type: 'boolean', short: 's' },
      quiet: { type: 'boolean', short: 'q' },
      compress: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...COMPRESS_OPTIONS,
      ...FIT_OPTIONS,
    },
  });
  if (v.help) return void process.stdout.write(PACK_HELP), 0;
  if (v.fit !== undefined) return fitBuild(v, positionals);
  for (const [flag, cat, val] of [['-A', 'arch', v.architecture], ['-O', 'os', v.os], ['-T', 'type', v.type], ['-C', 'comp', v.compression]] as const) {
    if (val === 'list') return void process.stdout.write(`Supported values for ${flag}:\n${listTable(cat)}`), 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one output image expected, got ${positionals.join(' ')}` : 'missing output image name');
  const out = positionals[0]!;
  const type = enumArg('type', '-T type', v.type);
  let comp = enumArg('comp', '-C compression', v.compression);
  const name = v.name ?? v.config;
  if (v.image === undefined) throw new UsageError('missing -d FILE');
  const t = type ?? 2;
  const paths = splitDataArg(v.image, t);

  let data: Payload[];
  if (v.compress !== undefined) {
    const fmt = COMP_OF_CODEC[v.compress];
    if (!fmt) throw new UsageError(`--compress takes gzip, lzma, zstd, lz4, bzip2 or lzo, not '${v.compress}'`);
    if (t === IH_TYPE_MULTI || t === IH_TYPE_SCRIPT) throw new UsageError('--compress works on single-file images (the kernel); compress the parts of a multi-file image first');
    const asked = idOf('comp', fmt)!;
    if (comp !== undefined && comp !== asked) throw new UsageError(`--compress ${v.compress} contradicts -C ${v.compression}`);
    comp = asked;
    const input = new Uint8Array(await readFile(paths[0]!));
    data = [await compressBytes(input, v.compress, compressOptions(v as CompressFlags))];
  } else {
    data = [];
    for (const p of paths) data.push(await filePayload(p));
  }

  const { time, warning } = sourceDateEpoch(process.env.SOURCE_DATE_EPOCH, Math.floor(Date.now() / 1000));
  if (warning) process.stderr.write(`uimage: ${warning}\n`);
  let spec;
  try {
    spec = await mkimageSpec({
      ...(v.os === undefined ? {} : { os: enumArg('os', '-O os', v.os)! }),
      ...(v.architecture === undefined ? {} : { arch: enumArg('arch', '-A architecture', v.architecture)! }),
      ...(type === undefined ? {} : { type }),
      ...(comp === undefined ? {} : { comp }),
      ...(v['load-address'] === undefined ? {} : { load: parseHexAddr(v['load-address'], 'load address') }),
      ...(v['entry-point'] === undefined ? {} : { ep: parseHexAddr(v['entry-point'], 'entry point') }),
      ...(name === undefined ? {} : { name }),
      data,
      xip: v.xip === true,
      skipData: v['no-copy'] === true,
      time,
    });
  } catch (e) {
    if (e instanceof MkimageError) {
      if (e.exitCode === 2) throw new UsageError(e.message);
      throw Object.assign(new Error(e.message), { exitCode: 1 });
    }
    throw e;
  }
  const header = await withOutputFile(out, (sink) => writeLegacyImage(sink, spec));
  if (!v.quiet) {
    const multi = !spec.raw && (spec.type === IH_TYPE_MULTI || spec.type === IH_TYPE_SCRIPT);
    const sizes = spec.parts.map((p) => (p instanceof Uint8Array ? p.length : p.size));
    const parts = multi ? multiOffsets(sizes).map((o, i) => ({ offset: HEADER_SIZE + o, size: sizes[i]! })) : [];
    process.stdout.write(legacyListingBytes(header, parts));
  }
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' }, 'no-verify': { type: 'boolean' }, base: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'key-blob': { type: 'string', short: 'K' },
    },
  });
  if (v.help) return void process.stdout.write(LIST_HELP), 0;
  if (positionals.length !== 1) throw new UsageError('list takes one image');
  const base = v.base === undefined ? 0 : parseIntAuto(v.base, '--base');
  const ra = await fileAccess(positionals[0]!, 'uimage');
  if (await isFit(ra)) {
    try {
      const fit = await openFit(ra);
      const ver = v['no-verify'] ? undefined : await verifyFit(fit, await keyOpts(v['key-blob']));
      if (v.json) process.stdout.write(JSON.stringify({ file: positionals[0], fileSize: ra.size, ...(fitJson(fit, ver) as object) }, null, 2) + '\n');
      else process.stdout.write(formatFitListing(fit));
      if (ver && !ver.ok) throw fitVerifyError(ver);
    } finally {
      await ra.close?.();
    }
    return 0;
  }
  try {
    const img = await openLegacyImage(ra, { verify: !v['no-verify'] });
    if (v.json) {
      process.stdout.write(JSON.stringify({ file: positionals[0], fileSize: ra.size, ...legacyJson(img.header, img.parts, { trailing: img.trailing, verified: !v['no-verify'] }) }, null, 2) + '\n');
    } else {
      const multi = img.header.type === IH_TYPE_MULTI || img.header.type === IH_TYPE_SCRIPT;
      process.stdout.write(legacyListingBytes(img.header, multi ? img.parts : [], base));
    }
    if (img.trailing > 0) process.stderr.write(`uimage: note: ${img.trailing} bytes follow the image data (ignored, as U-Boot does)\n`);
  } finally {
    await ra.close?.();
  }
  return 0;
}

async function extract(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      position: { type: 'string', short: 'p' },
      image: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'no-verify': { type: 'boolean' },
      type: { type: 'string', short: 'T' }, // dumpimage's -T: accepted; the header's type decides, as in dumpimage
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return void process.stdout.write(EXTRACT_HELP), 0;
  if (positionals.length !== 1) throw new UsageError('extract takes one image');
  if (!v.output) throw new UsageError('missing -o OUT');
  if (v.type !== undefined) enumArg('type', '-T type', v.type);
  let index = 0;
  if (v.position !== undefined) {
    if (!/^[0-9]+$/.test(v.position)) throw new UsageError(`invalid file position '${v.position}'`);
    index = Number(v.position);
  }
  const ra = await fileAccess(positionals[0]!, 'uimage');
  if (await isFit(ra)) {
    try {
      await fitExtract(ra, v.image === undefined ? index : v.image, v.output, !v['no-verify']);
    } finally {
      await ra.close?.();
    }
    return 0;
  }
  if (v.image !== undefined) throw new UsageError('--image NAME is for FIT images');
  try {
    const img = await openLegacyImage(ra, { verify: !v['no-verify'] });
    // as dumpimage: only a multi-file image is split; a script comes out whole, size table included
    const payload = img.header.type === IH_TYPE_MULTI ? img.part(index) : img.data();
    await withOutputFile(v.output, (sink) => pipeInto(sink, payload.chunks()));
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  } finally {
    await ra.close?.();
  }
  return 0;
}

// ---- FIT ----------------------------------------------------------------------------------------------

const FIT_HELP = `Usage: uimage fit -f IMAGE.its [options] OUT.itb     (also: uimage pack -f IMAGE.its …)
       uimage fit -f auto [-A -O -T -C -a -e -n] -d IMAGE [-b DTB…] [-i RAMDISK] OUT.itb
       uimage fit verify X.itb [-K KEY.dtb] [--config NAME] [--json]

Builds a FIT byte for byte as mkimage -f of U-Boot 2023.01 (timestamp = SOURCE_DATE_EPOCH when set):
  -E            external data: data-size/data-offset in the blob, the data after it
  -B HEX        alignment of the blob end and of each external image (default 4)
  -p HEX        external data at this absolute offset (data-position)
  -k KEYDIR     sign: <hint>.key + <hint>.crt (RSA) or <hint>.pem (ECDSA) for each signature node
  -K KEY.dtb    write the public keys into this control blob (updated in place, as mkimage)
  -r            mark those keys required
  -c COMMENT    comment in each signature node;  -o ALGO  override each signature node's algo
  -q            do not print the listing afterwards
With -E, the bytes between the blob's strings and its aligned end are zero; mkimage 2023.01 leaves
libfdt leftovers there (zeroed since v2024.01).
'verify' checks every hash node against the data and, given -K, every signature (exit 1 on a mismatch).
`;

const FIT_OPTIONS = {
  fit: { type: 'string', short: 'f' },
  external: { type: 'boolean', short: 'E' },
  'block-size': { type: 'string', short: 'B' },
  'external-position': { type: 'string', short: 'p' },
  'key-dir': { type: 'string', short: 'k' },
  'key-blob': { type: 'string', short: 'K' },
  'require-keys': { type: 'boolean', short: 'r' },
  dtb: { type: 'string', short: 'b', multiple: true },
  ramdisk: { type: 'string', short: 'i' },
  comment: { type: 'string', short: 'c' },
  algo: { type: 'string', short: 'o' },
} as const;

/** Whether the input starts with the FDT magic (a FIT), rather than a legacy header. */
async function isFit(ra: RandomAccess): Promise<boolean> {
  if (ra.size < 4) return false;
  const b = await ra.readAt(0, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0) === FDT_MAGIC;
}

async function keyOpts(path: string | undefined): Promise<{ keyBlob?: Uint8Array }> {
  return path === undefined ? {} : { keyBlob: new Uint8Array(await readFile(path)) };
}

const fail1 = (message: string): Error => Object.assign(new Error(message), { exitCode: 1 });

function fitVerifyError(v: FitVerification): Error {
  const bad = [
    ...v.hashes.filter((h) => !h.ok).map((h) => `/images/${h.image}/${h.node} (${h.algo}): ${h.reason ?? 'bad'}`),
    ...v.signatures.filter((s) => s.status === 'bad').map((s) => `${s.path} (${s.algo ?? '?'}): ${s.reason ?? 'bad'}`),
    ...v.missingRequired,
  ];
  return new FormatError('fit', 'BAD_CHECKSUM', 0, `Cannot verify FIT: ${bad.join('; ')}`);
}

function hexArg(s: string | undefined, what: string): number | undefined {
  return s === undefined ? undefined : parseHexAddr(s, what);
}

type FitFlags = { [K in keyof typeof FIT_OPTIONS]?: (typeof FIT_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof FIT_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
type AutoFlags = { architecture?: string; os?: string; type?: string; compression?: string; 'load-address'?: string; 'entry-point'?: string; name?: string; image?: string; quiet?: boolean };

async function fitBuild(v: FitFlags & AutoFlags, positionals: string[]): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one output image expected, got ${positionals.join(' ')}` : 'missing output image name');
  const out = positionals[0]!;
  const now = Math.floor(Date.now() / 1000);
  const { time, warning } = sourceDateEpoch(process.env.SOURCE_DATE_EPOCH, now);
  if (warning) process.stderr.write(`uimage: ${warning}\n`);
  let input: FitInput;
  if (v.fit === 'auto') {
    if (v.image === undefined) throw new UsageError('-f auto needs -d IMAGE');
    const load = hexArg(v['load-address'], 'load address') ?? 0;
    input = fitAuto({
      type: enumArg('type', '-T type', v.type) ?? 2, arch: enumArg('arch', '-A architecture', v.architecture) ?? 7,
      os: enumArg('os', '-O os', v.os) ?? 5, comp: enumArg('comp', '-C compression', v.compression) ?? 1,
      load, entry: hexArg(v['entry-point'], 'entry point') ?? load, name: v.name ?? '',
      image: await filePayload(v.image),
      dtbs: await Promise.all((v.dtb ?? []).map(async (path) => ({ path, data: await filePayload(path) }))),
      ...(v.ramdisk === undefined ? {} : { ramdisk: await filePayload(v.ramdisk) }),
    });
  } else {
    if (v.image !== undefined) throw new UsageError('-d and -f cannot be used together (except -f auto)');
    try {
      input = fitFromIts(v.fit!);
    } catch (e) {
      if (e instanceof DtsError) throw fail1(`${v.fit}: ${e.message}`);
      throw e;
    }
  }
  const keyBlob = v['key-blob'] === undefined ? undefined : new Uint8Array(await readFile(v['key-blob']));
  const position = hexArg(v['external-position'], 'external position');
  const align = hexArg(v['block-size'], 'block size');
  if (align === 0) throw new UsageError('-B takes a non-zero alignment');
  const o: FitBuildOptions = {
    time, signTime: sourceDateEpoch(process.env.SOURCE_DATE_EPOCH, now).time,
    ...(v['key-dir'] === undefined ? {} : { keydir: v['key-dir'] }),
    ...(keyBlob === undefined ? {} : { keyBlob }),
    requireKeys: v['require-keys'] === true,
    ...(v.comment === undefined ? {} : { comment: v.comment }),
    ...(v.algo === undefined ? {} : { algo: v.algo }),
    external: v.external === true || position !== undefined,
    ...(align === undefined ? {} : { align }),
    ...(position === undefined ? {} : { position }),
    onWarning: (m) => process.stderr.write(`uimage: ${m}\n`),
  };
  let built;
  try {
    built = await buildFit(input, o);
  } catch (e) {
    if (e instanceof FitBuildError || e instanceof FitSignError) throw fail1(`${basename(out)}: ${e.message}`);
    throw e;
  }
  await withOutputFile(out, (sink) => writeFit(sink, built));
  if (built.keyBlob && v['key-blob'] !== undefined) await writeFileAtomic(v['key-blob'], built.keyBlob);
  if (!v.quiet) {
    const ra = await fileAccess(out, 'fit');
    try {
      process.stdout.write(formatFitListing(await openFit(ra)));
    } finally {
      await ra.close?.();
    }
  }
  return 0;
}

async function fitCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      ...FIT_OPTIONS,
      architecture: { type: 'string', short: 'A' }, os: { type: 'string', short: 'O' }, type: { type: 'string', short: 'T' },
      compression: { type: 'string', short: 'C' }, 'load-address': { type: 'string', short: 'a' }, 'entry-point': { type: 'string', short: 'e' },
      name: { type: 'string', short: 'n' }, image: { type: 'string', short: 'd' }, quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return void process.stdout.write(FIT_HELP), 0;
  if (v.fit === undefined) throw new UsageError("fit needs -f IMAGE.its (or -f auto), or the 'verify' command");
  return fitBuild(v, positionals);
}

async function fitVerify(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { 'key-blob': { type: 'string', short: 'K' }, config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (v.help) return void process.stdout.write(FIT_HELP), 0;
  if (positionals.length !== 1) throw new UsageError('fit verify takes one image');
  const ra = await fileAccess(positionals[0]!, 'fit');
  try {
    if (!(await isFit(ra))) throw new FormatError('fit', 'BAD_MAGIC', 0, 'Cannot parse FIT: not a device tree blob');
    const fit = await openFit(ra);
    const ver = await verifyFit(fit, { ...(await keyOpts(v['key-blob'])), ...(v.config === undefined ? {} : { config: v.config }) });
    if (v.json) process.stdout.write(JSON.stringify({ file: positionals[0], ...(fitJson(fit, ver) as object) }, null, 2) + '\n');
    else {
      for (const h of ver.hashes) process.stdout.write(`/images/${h.image}/${h.node}: ${h.algo} ${h.ok ? 'OK' : `BAD (${h.reason})`}\n`);
      for (const s of ver.signatures) process.stdout.write(`${s.path}: ${s.algo ?? '?'}${s.keyNameHint ? `:${s.keyNameHint}` : ''} ${s.status === 'ok' ? `OK (${s.key})` : s.status === 'bad' ? `BAD (${s.reason})` : `unchecked (${s.reason ?? 'no key'})`}\n`);
    }
    if (!ver.ok) throw fitVerifyError(ver);
  } finally {
    await ra.close?.();
  }
  return 0;
}

/** dumpimage -T flat_dt -p N -o OUT: component N (or the image named NAME), after checking its hashes. */
async function fitExtract(ra: RandomAccess, which: number | string, out: string, verify: boolean): Promise<void> {
  const fit: OpenedFit = await openFit(ra);
  const im = typeof which === 'number' ? fit.images[which] : imageByName(fit, which);
  if (!im) throw new UsageError(typeof which === 'number' ? `No such component at '${which}' (the FIT has ${fit.images.length} images)` : `no image named '${which}'`);
  if (verify) {
    const ver = await verifyFit({ ...fit, images: [im], configs: [] });
    if (!ver.ok) throw fitVerifyError(ver);
  }
  await withOutputFile(out, (sink) => pipeInto(sink, fit.data(im).chunks()));
}


runMain(process.argv[1]?.startsWith('imgkit') ? process.argv[1] : 'uimage', async (argv) => {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'pack':
      return pack(rest);
    case 'list':
    case 'info':
      return list(rest);
    case '-l':
      return list(rest);
    case 'extract':
      return extract(rest);
    case 'fit':
      return rest[0] === 'verify' ? fitVerify(rest.slice(1)) : fitCommand(rest);
    case undefined:
      process.stdout.write(HELP);
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
