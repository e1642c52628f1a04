/**
 * `uimage fit verify`, and list/extract of FIT images (dumpimage -T flat_dt); building (`uimage fit
 * -f`, `uimage pack -f`) is in uimage-fit-build.ts, loaded only for it.
 */
import { readInput } from '../bytes/input.js';
import { fileAccess, type RandomAccess } from '../bytes/random.js';
import { pipeInto, withOutputFile } from '../bytes/sink.js';
import { FormatError } from '../bytes/errors.js';
import { openFit, imageByName, type OpenedFit } from '../uimage/fit-read.js';
import { verifyFit, type FitVerification } from '../uimage/fit-verify.js';
import { blocksOf } from '../uimage/fit-regions.js';
import { fitJson, formatFitListing } from '../uimage/fit-text.js';
import { isFit } from './uimage-args.js';
import { parseArgs, UsageError } from './run.js';

export const FIT_HELP = `Usage: uimage fit -f IMAGE.its [options] OUT.itb     (also: uimage pack -f IMAGE.its …)
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
An .its without a root description is refused (exit 1), as mkimage refuses it: U-Boot would not boot it.
'verify' checks every hash node against the data and, given -K, every signature, and that the root has
the description and timestamp U-Boot requires (exit 1 otherwise; list and extract check the same).
`;


async function keyOpts(path: string | undefined): Promise<{ keyBlob?: Uint8Array }> {
  return path === undefined ? {} : { keyBlob: await readInput(path, 'fit') };
}

/** Most failures the error message names (`fit verify` prints every check). */
const MAX_NAMED_FAILURES = 16;

function fitVerifyError(v: FitVerification): Error {
  const bad: string[] = [];
  let more = 0;
  const add = (line: () => string): void => {
    if (bad.length < MAX_NAMED_FAILURES) bad.push(line());
    else more++;
  };
  for (const f of v.format) add(() => f);
  for (const h of v.hashes) if (!h.ok) add(() => `/images/${h.image}/${h.node} (${h.algo}): ${h.reason ?? 'bad'}`);
  for (const s of v.signatures) if (s.status === 'bad') add(() => `${s.path} (${s.algo ?? '?'}): ${s.reason ?? 'bad'}`);
  for (const m of v.missingRequired) add(() => m);
  if (more) bad.push(`and ${more} more`);
  return new FormatError('fit', 'BAD_CHECKSUM', 0, `Cannot verify FIT: ${bad.join('; ')}`);
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
  // as dumpimage: a position the FIT does not have is a fact about the image, a name is the caller's
  if (!im && typeof which === 'number')
    throw new FormatError('fit', 'BAD_FIELD', blocksOf(fit.blob).offStruct, `Cannot extract image ${which}: no such component at '${which}', the FIT has ${fit.images.length}`);
  if (!im) throw new UsageError(`no image named '${which}'`);
  if (verify) {
    const ver = await verifyFit({ ...fit, images: [im], configs: [] });
    if (!ver.ok) throw fitVerifyError(ver);
  }
  await withOutputFile(out, (sink) => pipeInto(sink, fit.data(im).chunks()), { named: true });
}


/** `uimage list` of a FIT: the listing (or JSON) after checking every hash and, given -K, signature. */
export async function fitList(ra: RandomAccess, file: string, o: { json?: boolean; verify: boolean; keyBlob?: string }): Promise<void> {
  const fit = await openFit(ra);
  const ver = o.verify ? await verifyFit(fit, await keyOpts(o.keyBlob)) : undefined;
  if (o.json) process.stdout.write(JSON.stringify({ file, fileSize: ra.size, ...(fitJson(fit, ver) as object) }, null, 2) + '\n');
  else process.stdout.write(formatFitListing(fit));
  if (ver && !ver.ok) throw fitVerifyError(ver);
}
