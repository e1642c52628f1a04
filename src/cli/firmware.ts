/**
 * `imgkit firmware`: router flash images. `pack` puts a kernel uImage and a squashfs rootfs on
 * erase-block boundaries within a flash budget and prints the budget; `info` finds the parts of an
 * image as OpenWrt's flash splitter does.
 */
import { readInput } from '../bytes/input.js';
import { fileAccess } from '../bytes/random.js';
import { writeFileAtomic } from '../bytes/sink.js';
import {
  assembleFirmware, describeFirmware, FirmwareBudgetError, formatBudget, formatLayout, layoutJson, parseMtdparts, parseSize, type Budget,
} from '../firmware/index.js';
import { parseIntAuto, runMain, UsageError, parseArgs } from './run.js';

const TOOL = process.argv[1]?.startsWith('imgkit ') ? process.argv[1] : 'firmware';

const HELP = `Usage: ${TOOL} <command> [options]

Commands:
  pack --kernel UIMAGE --rootfs SQUASHFS -o OUT [options]   assemble a flash image and print its budget
  info IMG [--erase-block SIZE] [--json]                    find and describe the parts of a flash image

Options of pack:
  --erase-block SIZE   flash erase block (default 64KiB); the rootfs starts on the next boundary
  --flash-size SIZE    the budget: the image must fit, else exit 1 naming the bytes over
  --mtdparts TABLE     a partition table instead, mtdparts syntax: '256k(u-boot)ro,1536k(kernel),-(rootfs)'
                       (kernel and rootfs go at their partitions; or one 'firmware' partition is the budget)
  --pad                fill the image to the end of the budget (a factory image)
  --fill BYTE          padding byte (default 0xff, erased NOR flash)
  --json               print the budget as JSON
Sizes: 65536, 0x10000, 64k, 64KiB, 4M, 4MiB. With -o -, the image goes to stdout and the budget to stderr.
`;

function budgetJson(b: Budget): string {
  return `${JSON.stringify(b, null, 2)}\n`;
}

async function pack(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      kernel: { type: 'string' }, rootfs: { type: 'string' }, output: { type: 'string', short: 'o' },
      'erase-block': { type: 'string' }, 'flash-size': { type: 'string' }, mtdparts: { type: 'string' },
      pad: { type: 'boolean' }, fill: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) return void process.stdout.write(HELP), 0;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.kernel || !values.rootfs || !values.output) throw new UsageError('pack needs --kernel, --rootfs and -o');
  const size = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    try {
      return parseSize(v, what);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const flashSize = size(values['flash-size'], '--flash-size');
  const eraseBlock = size(values['erase-block'], '--erase-block');
  let partitions;
  try {
    partitions = values.mtdparts === undefined ? undefined : parseMtdparts(values.mtdparts, flashSize);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const [kernel, rootfs] = await Promise.all([readInput(values.kernel, 'firmware'), readInput(values.rootfs, 'firmware')]);
  const toStdout = values.output === '-';
  const say = (s: string) => (toStdout ? process.stderr : process.stdout).write(s);
  try {
    const { image, budget } = assembleFirmware({
      kernel: new Uint8Array(kernel.buffer, kernel.byteOffset, kernel.length),
      rootfs: new Uint8Array(rootfs.buffer, rootfs.byteOffset, rootfs.length),
      ...(eraseBlock === undefined ? {} : { eraseBlock }), ...(flashSize === undefined ? {} : { flashSize }),
      ...(partitions === undefined ? {} : { partitions }), ...(values.pad ? { pad: true } : {}),
      ...(values.fill === undefined ? {} : { fill: parseIntAuto(values.fill, '--fill') }),
    });
    if (toStdout) await new Promise<void>((res, rej) => process.stdout.write(image, (e) => (e ? rej(e) : res())));
    else await writeFileAtomic(values.output, image, { named: true });
    say(values.json ? budgetJson(budget) : formatBudget(budget));
    return 0;
  } catch (e) {
    if (e instanceof FirmwareBudgetError) process.stderr.write(values.json ? budgetJson(e.budget) : formatBudget(e.budget));
    throw e;
  }
}

async function info(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'erase-block': { type: 'string' }, json: { type: 'boolean' }, 'no-verify': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) return void process.stdout.write(HELP), 0;
  if (positionals.length !== 1) throw new UsageError('info takes one image');
  let eraseBlock: number | undefined;
  try {
    eraseBlock = values['erase-block'] === undefined ? undefined : parseSize(values['erase-block'], '--erase-block');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const ra = await fileAccess(positionals[0]!, 'firmware');
  try {
    const layout = await describeFirmware(ra, { ...(eraseBlock === undefined ? {} : { eraseBlock }), verify: !values['no-verify'] });
    process.stdout.write(values.json ? `${JSON.stringify(layoutJson(layout), null, 2)}\n` : formatLayout(layout, positionals[0]));
  } finally {
    await ra.close?.();
  }
  return 0;
}

runMain(TOOL, async (argv) => {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(HELP);
    return verb === undefined ? 2 : 0;
  }
  if (verb === 'pack') return pack(rest);
  if (verb === 'info') return info(rest);
  if (verb.startsWith('-')) return pack(argv); // `imgkit firmware --kernel … -o …`
  throw new UsageError(`unknown command '${verb}'`);
});
