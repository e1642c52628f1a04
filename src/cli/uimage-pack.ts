/**
 * `uimage pack`: a legacy uImage from mkimage's flags (`-f` hands over to the FIT builder).
 */
import { readInput } from '../bytes/input.js';
import { filePayload, type Payload } from '../bytes/payload.js';
import { withOutputFile } from '../bytes/sink.js';
import { HEADER_SIZE, multiOffsets } from '../uimage/layout.js';
import { writeLegacyImage } from '../uimage/legacy-write.js';
import { legacyListingBytes } from '../uimage/legacy-text.js';
import { MkimageError, mkimageSpec, sourceDateEpoch, splitDataArg } from '../uimage/mkimage.js';
import { idOf, IH_TYPE_MULTI, IH_TYPE_SCRIPT } from '../uimage/tables.js';
import { compressOptions, COMPRESS_OPTION_HELP, COMPRESS_OPTIONS, compressBytes, type CompressFlags } from './compress.js';
import { enumArg, FIT_OPTIONS, listTable, parseHexAddr } from './uimage-args.js';
import { parseArgs, UsageError } from './run.js';

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

const COMP_OF_CODEC: Record<string, string> = { gzip: 'gzip', lzma: 'lzma', zstd: 'zstd', lz4: 'lz4', bzip2: 'bzip2', lzo: 'lzo' };

export async function pack(argv: string[]): Promise<number> {
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
  if (v.fit !== undefined) return (await import('./uimage-fit-build.js')).fitBuild(v, positionals);
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
    const input = await readInput(paths[0]!, 'uimage');
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
  const header = await withOutputFile(out, (sink) => writeLegacyImage(sink, spec), { named: true });
  if (!v.quiet) {
    const multi = !spec.raw && (spec.type === IH_TYPE_MULTI || spec.type === IH_TYPE_SCRIPT);
    const sizes = spec.parts.map((p) => (p instanceof Uint8Array ? p.length : p.size));
    const parts = multi ? multiOffsets(sizes).map((o, i) => ({ offset: HEADER_SIZE + o, size: sizes[i]! })) : [];
    process.stdout.write(legacyListingBytes(header, parts));
  }
  return 0;
}

