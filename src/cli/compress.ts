/**
 * `imgkit compress` and `imgkit decompress`: one stream in, one stream out, through src/codec.
 * Written for router kernels: `--format lzma` writes LZMA-alone with the real uncompressed size in
 * the header (vendor U-Boot 1.1.x refuses the all-ones "unknown size" that `xz --format=lzma`
 * writes) and takes lc/lp/pb/dict as OpenWrt's `lzma e -lc1 -lp2 -pb2 -d20` does.
 *
 * The module also exports the option table and helpers `uimage pack --compress` uses; it runs its
 * own main only when it is the command (argv[1] names compress or decompress).
 */
import { getCodec, detectCompression, type CompressionId, type EncodeOptions } from '../codec/index.js';
import { isLzmaEncoder, type LzmaEncoder } from '../codec/types.js';
import { readInput, readStdin } from '../bytes/input.js';
import { pipeInto, withOutputFile, writeFileAtomic } from '../bytes/sink.js';
import { FormatError } from '../bytes/errors.js';
import { runMain, UsageError, parseArgs } from './run.js';

const FORMATS: readonly CompressionId[] = ['gzip', 'zlib', 'xz', 'lzma', 'zstd', 'lz4', 'lz4-legacy', 'bzip2', 'lzo'];

/** Options shared with `uimage pack --compress` (node:util parseArgs table). */
export const COMPRESS_OPTIONS = {
  level: { type: 'string' },
  lc: { type: 'string' },
  lp: { type: 'string' },
  pb: { type: 'string' },
  dict: { type: 'string' },
  'unknown-size': { type: 'boolean' },
  'no-end-marker': { type: 'boolean' },
  encoder: { type: 'string' },
} as const;

export const COMPRESS_OPTION_HELP = `  --level N                 compression level (gzip 0-9, lzma/xz 0-9, zstd -7-22, lz4 1-12)
  --lc N --lp N --pb N      lzma: literal context / literal position / position bits (default 3 0 2;
                            OpenWrt's MIPS kernels use --lc 1 --lp 2 --pb 2)
  --dict SIZE               lzma, xz: dictionary size: bytes, or with K/KiB, M/MiB (e.g. 1MiB, 8M),
                            a power of two or 2^n + 2^(n-1), from 4 KiB (default from the level: 8 MiB at 6)
  --unknown-size            lzma: write "unknown" (all ones) as the size, as xz --format=lzma does
  --no-end-marker           lzma: no end marker after the real size, as the LZMA SDK's lzma e writes
                            it (the kernel's unlzma reads an initramfs so with no complaint; needs the
                            native addon on liblzma 5.4+, or --encoder imgkit)
  --encoder NAME            lzma: liblzma (default; the bytes xz --format=lzma writes) or imgkit
                            (imgkit's encoder, match finder on a second core: about 1.5x as fast on
                            two cores, the same size within a fraction of a percent, other bytes)`;

export interface CompressFlags {
  level?: string | undefined;
  lc?: string | undefined;
  lp?: string | undefined;
  pb?: string | undefined;
  dict?: string | undefined;
  'unknown-size'?: boolean | undefined;
  'no-end-marker'?: boolean | undefined;
  encoder?: string | undefined;
}

function smallInt(s: string, what: string, min: number, max: number): number {
  if (!/^-?[0-9]+$/.test(s)) throw new UsageError(`invalid ${what} '${s}'`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${what} ${n} is outside ${min}..${max}`);
  return n;
}

/** "1MiB", "8M", "65536", "64k" → bytes; a power of two or 2^n + 2^(n-1), at least 4 KiB, as decoders expect. */
export function parseDictSize(s: string): number {
  const m = /^([0-9]+)\s*(|k|K|KiB|m|M|MiB|g|G|GiB)$/.exec(s.trim());
  if (!m) throw new UsageError(`invalid --dict '${s}' (bytes, or a number with K, KiB, M, MiB)`);
  const unit = m[2]!.charAt(0).toLowerCase();
  const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (n < 4096 || n > 1.5 * 1024 ** 3) throw new UsageError(`--dict ${s} is outside 4 KiB..1.5 GiB${n < 64 ? ` (for 2^${m[1]} write ${2 ** Number(m[1]) >= 1024 ** 2 ? `${2 ** Number(m[1]) / 1024 ** 2}MiB` : `${2 ** Number(m[1]) / 1024}KiB`})` : ''}`);
  const e = Math.floor(Math.log2(n));
  if (n !== 2 ** e && n !== 2 ** e + 2 ** (e - 1))
    throw new UsageError(`--dict ${s}: use a power of two or 2^n + 2^(n-1) (the .lzma header stores what xz and the kernel accept)`);
  return n;
}

/** EncodeOptions from the shared flags; `format` decides which apply. */
export function compressOptions(f: CompressFlags, format?: string): EncodeOptions {
  const o: { level?: number; lzma?: NonNullable<EncodeOptions['lzma']>; xz?: NonNullable<EncodeOptions['xz']> } = {};
  if (f.level !== undefined) o.level = smallInt(f.level, '--level', -7, 22);
  const lzma: { lc?: number; lp?: number; pb?: number; dictSize?: number; sizeInHeader?: boolean; endMarker?: boolean; encoder?: LzmaEncoder } = {};
  if (f.lc !== undefined) lzma.lc = smallInt(f.lc, '--lc', 0, 8);
  if (f.lp !== undefined) lzma.lp = smallInt(f.lp, '--lp', 0, 4);
  if (f.pb !== undefined) lzma.pb = smallInt(f.pb, '--pb', 0, 4);
  if ((lzma.lc ?? 3) + (lzma.lp ?? 0) > 4) throw new UsageError(`--lc + --lp must be at most 4 (liblzma's limit; OpenWrt uses lc1 lp2)`);
  if (f['unknown-size']) lzma.sizeInHeader = false;
  if (f['no-end-marker']) {
    if (f['unknown-size']) throw new UsageError('--no-end-marker needs the size in the header (not --unknown-size)');
    lzma.endMarker = false;
  }
  if (f.encoder !== undefined) {
    if (!isLzmaEncoder(f.encoder)) throw new UsageError(`unknown --encoder '${f.encoder}' (liblzma or imgkit)`);
    lzma.encoder = f.encoder;
  }
  const dict = f.dict === undefined ? undefined : parseDictSize(f.dict);
  const lzmaOnly =
    lzma.lc !== undefined || lzma.lp !== undefined || lzma.pb !== undefined || lzma.sizeInHeader !== undefined || lzma.endMarker !== undefined || lzma.encoder !== undefined;
  if (format !== undefined && format !== 'lzma' && lzmaOnly) throw new UsageError('--lc, --lp, --pb, --unknown-size, --no-end-marker and --encoder apply to --format lzma');
  if (format !== undefined && format !== 'lzma' && format !== 'xz' && dict !== undefined) throw new UsageError('--dict applies to lzma and xz');
  if (dict !== undefined) {
    lzma.dictSize = dict;
    o.xz = { dictSize: dict };
  }
  o.lzma = lzma;
  return o as EncodeOptions;
}

/** Compresses with codec `format`; a codec without an encoder is a usage error. */
export async function compressBytes(input: Uint8Array, format: string, opts: EncodeOptions): Promise<Uint8Array> {
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`unknown format '${format}' (${FORMATS.join(', ')})`);
  const codec = await getCodec(format as CompressionId);
  if (!codec.encode) throw new UsageError(`this version of imgkit cannot compress ${format} (it decompresses it)`);
  return codec.encode(input, opts);
}

const HELP_COMPRESS = `Usage: imgkit compress --format FORMAT [options] IN -o OUT

Compresses IN (a file, or - for standard input) into one FORMAT stream in OUT (- for standard output).
Formats: ${FORMATS.join(', ')} (those this build can encode).
${COMPRESS_OPTION_HELP}

LZMA for routers: '--format lzma --lc 1 --lp 2 --pb 2 --dict 1MiB' gives the props byte 0x6d and a
1 MiB dictionary, with the real size in the header. 'xz -dc --format=lzma' decodes the result.
`;

const HELP_DECOMPRESS = `Usage: imgkit decompress [--format FORMAT] [--max-output SIZE] IN -o OUT

Decompresses IN (a file, or -) into OUT (or -). The format is detected from the magic unless given
(LZMA-alone has no magic: it is recognized by its header, or pass --format lzma). LZMA streams with
the size in the header and with "unknown size" plus an end marker are both accepted.
  --max-output SIZE   refuse to write more than SIZE bytes (default 1 GiB; K/M/G suffixes)
`;

const inputBytes = (path: string): Promise<Uint8Array> => (path === '-' ? readStdin('input') : readInput(path, 'input'));

const writeStdout = (bytes: Uint8Array): Promise<void> =>
  new Promise<void>((resolve, reject) => process.stdout.write(bytes, (e) => (e ? reject(e) : resolve())));

async function writeOutput(path: string, bytes: Uint8Array): Promise<void> {
  if (path === '-') return writeStdout(bytes);
  await writeFileAtomic(path, bytes, { named: true });
}

/**
 * Writes pieces as they come, each once the one before it is out: standard output gets what was
 * decoded before a failure (as `xz -dc` gives it); a file is renamed into place only when complete.
 */
async function writeOutputPieces(path: string, pieces: AsyncIterable<Uint8Array>): Promise<void> {
  if (path === '-') {
    for await (const piece of pieces) await writeStdout(piece);
    return;
  }
  await withOutputFile(path, (sink) => pipeInto(sink, pieces), { named: true });
}

/**
 * Formats whose decodeStream is the reader behind their decode, so fails the same way: their output
 * is written as it is decoded, and a small input that decodes to gigabytes takes little memory.
 */
const STREAMED: ReadonlySet<CompressionId> = new Set(['xz', 'lzma', 'lz4', 'lz4-legacy', 'bzip2']);

/**
 * Formats whose decodeStream takes what their decode takes and refuses what it refuses, but may
 * name another offset or reason (node:zlib's stream reads past a gzip member into what follows):
 * their output is written as it is decoded too, and a failure other than the output limit is
 * reported as decode reports it, from decoding the input again (then at most the output up to
 * the failure, within --max-output, is held).
 */
const RECHECKED: ReadonlySet<CompressionId> = new Set(['gzip', 'zlib']);

/**
 * Formats whose decodeStream is their reference tool's own decoder (zstd: libzstd's streaming
 * decoder, as `zstd -d` runs it), which refuses some input as unsupported that their decode takes
 * (a window past 2^27 bytes, as `zstd -d` refuses it, unless --max-output is raised past 1 GiB):
 * their output is written as it is decoded, and such input is decoded whole instead.
 */
const FALLBACK: ReadonlySet<CompressionId> = new Set(['zstd']);

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

function parseSize(s: string, what: string): number {
  const m = /^([0-9]+)\s*(|k|K|KiB|m|M|MiB|g|G|GiB)$/.exec(s.trim());
  if (!m) throw new UsageError(`invalid ${what} '${s}'`);
  const unit = m[2]!.charAt(0).toLowerCase();
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
}

export async function compressMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { format: { type: 'string', short: 'F' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' }, ...COMPRESS_OPTIONS },
  });
  if (v.help) return void process.stdout.write(HELP_COMPRESS), 0;
  if (!v.format) throw new UsageError('missing --format');
  if (positionals.length !== 1) throw new UsageError('one input file expected');
  if (!v.output) throw new UsageError('missing -o OUT');
  const opts = compressOptions(v, v.format);
  const out = await compressBytes(await inputBytes(positionals[0]!), v.format, opts);
  await writeOutput(v.output, out);
  return 0;
}

export async function decompressMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { format: { type: 'string', short: 'F' }, output: { type: 'string', short: 'o' }, 'max-output': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (v.help) return void process.stdout.write(HELP_DECOMPRESS), 0;
  if (positionals.length !== 1) throw new UsageError('one input file expected');
  if (!v.output) throw new UsageError('missing -o OUT');
  if (v.format !== undefined && !(FORMATS as readonly string[]).includes(v.format)) throw new UsageError(`unknown format '${v.format}' (${FORMATS.join(', ')})`);
  const maxOutput = v['max-output'] === undefined ? undefined : parseSize(v['max-output'], '--max-output');
  const input = await inputBytes(positionals[0]!);
  const id = (v.format as CompressionId | undefined) ?? detectCompression(input.subarray(0, 16));
  if (id === undefined) throw new FormatError('codec', 'BAD_MAGIC', 0, 'Cannot detect compression: no known magic (pass --format)');
  const codec = await getCodec(id);
  const opts = maxOutput === undefined ? {} : { maxOutput };
  if (STREAMED.has(id) && codec.decodeStream) await writeOutputPieces(v.output, codec.decodeStream(once(input), opts));
  else if (RECHECKED.has(id) && codec.decodeStream) {
    try {
      await writeOutputPieces(v.output, codec.decodeStream(once(input), opts));
    } catch (e) {
      if (!(e instanceof FormatError) || e.code === 'LIMIT') throw e;
      await codec.decode(input, opts);
      throw e; // decode took it: the stream's own error, then
    }
  } else if (FALLBACK.has(id) && codec.decodeStream) {
    let written = 0;
    const counted = async function* (pieces: AsyncIterable<Uint8Array>) {
      for await (const p of pieces) {
        written += p.length;
        yield p;
      }
    };
    const streamed = await writeOutputPieces(v.output, counted(codec.decodeStream(once(input), opts))).then(
      () => true,
      (e: unknown) => {
        // a file is only renamed into place once whole; standard output cannot take back what it got
        if (!(e instanceof FormatError) || e.code !== 'UNSUPPORTED' || (v.output === '-' && written > 0)) throw e;
        return false;
      },
    );
    if (!streamed) await writeOutput(v.output, await codec.decode(input, opts));
  } else await writeOutput(v.output, await codec.decode(input, opts));
  return 0;
}

/** `bin/…/compress`, `imgkit compress` or `imgkit decompress` (the umbrella sets argv[1] to "imgkit <tool>"). */
const invokedAs = /(?:^|[/ ])(de)?compress(?:\.[cm]?[jt]s)?$/.exec(process.argv[1] ?? '');
if (invokedAs) {
  const decompress = invokedAs[1] !== undefined;
  runMain(decompress ? 'imgkit decompress' : 'imgkit compress', decompress ? decompressMain : compressMain);
}
