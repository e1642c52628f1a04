/**
 * `uimage fit -f …` and `uimage pack -f …`: build a FIT as mkimage -f does (its ITS, or -f auto).
 */
import { readInput } from '../bytes/input.js';
import { basename } from 'node:path';
import { fileAccess } from '../bytes/random.js';
import { filePayload } from '../bytes/payload.js';
import { withOutputFile, writeFileAtomic } from '../bytes/sink.js';
import { DtsError } from '../dtb/dts/errors.js';
import { sourceDateEpoch } from '../uimage/mkimage.js';
import { FitBuildError, buildFit, writeFit, type FitBuildOptions, type FitInput } from '../uimage/fit-write.js';
import { fitFromIts } from '../uimage/fit-model.js';
import { fitAuto } from '../uimage/fit-auto.js';
import { openFit } from '../uimage/fit-read.js';
import { formatFitListing } from '../uimage/fit-text.js';
import { FitSignError } from '../uimage/fit-sign.js';
import { FIT_HELP } from './uimage-fit.js';
import { enumArg, fail1, FIT_OPTIONS, hexArg } from './uimage-args.js';
import { parseArgs, UsageError } from './run.js';

export type FitFlags = { [K in keyof typeof FIT_OPTIONS]?: (typeof FIT_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof FIT_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
export type AutoFlags = { architecture?: string; os?: string; type?: string; compression?: string; 'load-address'?: string; 'entry-point'?: string; name?: string; image?: string; quiet?: boolean };

export async function fitBuild(v: FitFlags & AutoFlags, positionals: string[]): Promise<number> {
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
  const keyBlob = v['key-blob'] === undefined ? undefined : await readInput(v['key-blob'], 'fit');
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
  await withOutputFile(out, (sink) => writeFit(sink, built), { named: true });
  if (built.keyBlob && v['key-blob'] !== undefined) await writeFileAtomic(v['key-blob'], built.keyBlob, { named: true });
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

export async function fitCommand(argv: string[]): Promise<number> {
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
