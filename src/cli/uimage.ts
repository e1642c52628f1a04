/**
 * `uimage`: U-Boot images — pack (mkimage's flags; `-f` for FIT), list (mkimage -l, CRCs and hashes
 * verified), extract (dumpimage -p), fit verify (hashes and signatures).
 */
import { fileAccess } from '../bytes/random.js';
import { pipeInto, withOutputFile, writeBehind } from '../bytes/sink.js';
import { rangePayload } from '../bytes/payload.js';
import { openLegacyImage } from '../uimage/legacy-read.js';
import { legacyJson, legacyListingBytes } from '../uimage/legacy-text.js';
import { IH_TYPE_MULTI, IH_TYPE_SCRIPT } from '../uimage/tables.js';
import { enumArg, isFit } from './uimage-args.js';
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
      const { fitList } = await import('./uimage-fit.js');
      await fitList(ra, positionals[0]!, { json: v.json === true, verify: !v['no-verify'], ...(v['key-blob'] === undefined ? {} : { keyBlob: v['key-blob'] }) });
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
      const { fitExtract } = await import('./uimage-fit.js');
      await fitExtract(ra, v.image === undefined ? index : v.image, v.output, !v['no-verify']);
    } finally {
      await ra.close?.();
    }
    return 0;
  }
  try {
    // a file that is neither a FIT nor a legacy image is bad input, whatever the options
    const img = await openLegacyImage(ra, { verify: !v['no-verify'], dataCrcWhileStreaming: true });
    if (v.image !== undefined) throw new UsageError('--image NAME is for FIT images');
    // as dumpimage: only a multi-file image is split; a script comes out whole, size table included
    const multi = img.header.type === IH_TYPE_MULTI;
    const payload = multi ? img.part(index) : img.data();
    const raw = multi ? undefined : rangePayload(ra, img.dataOffset, img.dataSize, 'uimage');
    await withOutputFile(v.output, async (sink) => {
      // a pipe or device keeps what it was given: the CRC is checked before anything goes there
      if (sink.inPlace && !v['no-verify'] && !multi) await img.checkData();
      if (!raw?.file || !sink.copyFrom) return pipeInto(sink, payload.chunks());
      // the data is summed as it is copied, on the thread pool; a bad CRC leaves no output
      if (!v['no-verify'] && sink.copyFromCrc) return img.checkDataCrc(await sink.copyFromCrc(raw.file, raw.size));
      // or the kernel copies the data while its CRC is checked here
      const w = writeBehind(sink);
      w.copy(raw.file, raw.size);
      try {
        if (!v['no-verify']) await img.checkData();
      } finally {
        await w.flush();
      }
    }, { named: true });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  } finally {
    await ra.close?.();
  }
  return 0;
}

runMain(process.argv[1]?.startsWith('imgkit') ? process.argv[1] : 'uimage', async (argv) => {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'pack':
      return (await import('./uimage-pack.js')).pack(rest);
    case 'list':
    case 'info':
      return list(rest);
    case '-l':
      return list(rest);
    case 'extract':
      return extract(rest);
    case 'fit':
    {
      if (rest[0] === 'verify') return (await import('./uimage-fit.js')).fitVerify(rest.slice(1));
      return (await import('./uimage-fit-build.js')).fitCommand(rest);
    }
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
