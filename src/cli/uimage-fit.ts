/**
 * `uimage fit …`, `uimage pack -f …`, and list/extract/verify of FIT images (mkimage -f, dumpimage -T flat_dt).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileAccess, type RandomAccess } from '../bytes/random.js';
import { filePayload } from '../bytes/payload.js';
import { pipeInto, withOutputFile, writeFileAtomic } from '../bytes/sink.js';
import { FormatError } from '../bytes/errors.js';
import { DtsError } from '../dtb/index.js';
import { sourceDateEpoch } from '../uimage/mkimage.js';
import { FitBuildError, buildFit, writeFit, type FitBuildOptions, type FitInput } from '../uimage/fit-write.js';
import { fitFromIts } from '../uimage/fit-model.js';
import { fitAuto } from '../uimage/fit-auto.js';
import { openFit, imageByName, type OpenedFit } from '../uimage/fit-read.js';
import { verifyFit, type FitVerification } from '../uimage/fit-verify.js';
import { fitJson, formatFitListing } from '../uimage/fit-text.js';
import { FitSignError } from '../uimage/fit-sign.js';
import { enumArg, fail1, hexArg, isFit } from './uimage-args.js';
import { parseArgs, UsageError } from './run.js';

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

export const FIT_OPTIONS = {
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

async function keyOpts(path: string | undefined): Promise<{ keyBlob?: Uint8Array }> {
  return path === undefined ? {} : { keyBlob: new Uint8Array(await readFile(path)) };
}

function fitVerifyError(v: FitVerification): Error {
  const bad = [
    ...v.hashes.filter((h) => !h.ok).map((h) => `/images/${h.image}/${h.node} (${h.algo}): ${h.reason ?? 'bad'}`),
    ...v.signatures.filter((s) => s.status === 'bad').map((s) => `${s.path} (${s.algo ?? '?'}): ${s.reason ?? 'bad'}`),
    ...v.missingRequired,
  ];
  return new FormatError('fit', 'BAD_CHECKSUM', 0, `Cannot verify FIT: ${bad.join('; ')}`);
}

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

export async function fitVerify(argv: string[]): Promise<number> {
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
export async function fitExtract(ra: RandomAccess, which: number | string, out: string, verify: boolean): Promise<void> {
  const fit: OpenedFit = await openFit(ra);
  const im = typeof which === 'number' ? fit.images[which] : imageByName(fit, which);
  if (!im) throw new UsageError(typeof which === 'number' ? `No such component at '${which}' (the FIT has ${fit.images.length} images)` : `no image named '${which}'`);
  if (verify) {
    const ver = await verifyFit({ ...fit, images: [im], configs: [] });
    if (!ver.ok) throw fitVerifyError(ver);
  }
  await withOutputFile(out, (sink) => pipeInto(sink, fit.data(im).chunks()));
}


/** `uimage list` of a FIT: the listing (or JSON) after checking every hash and, given -K, signature. */
export async function fitList(ra: RandomAccess, file: string, o: { json?: boolean; verify: boolean; keyBlob?: string }): Promise<void> {
  const fit = await openFit(ra);
  const ver = o.verify ? await verifyFit(fit, await keyOpts(o.keyBlob)) : undefined;
  if (o.json) process.stdout.write(JSON.stringify({ file, fileSize: ra.size, ...(fitJson(fit, ver) as object) }, null, 2) + '\n');
  else process.stdout.write(formatFitListing(fit));
  if (ver && !ver.ok) throw fitVerifyError(ver);
}
