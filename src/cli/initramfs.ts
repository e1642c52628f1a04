/** `initramfs`: build and read Linux initramfs images (cpio newc/crc, every kernel compressor, several segments). */
import { parseArgs } from 'node:util';
import { withOutputFile, writeBehind, type ByteSink } from '../bytes/sink.js';
import { concat } from '../bytes/source.js';
import { readInput } from '../bytes/input.js';
import { decodeCpio } from '../cpio/read.js';
import { isLzmaEncoder } from '../codec/types.js';
import type { CpioItem } from '../cpio/write.js';
import type { TreeOptions } from '../cpio/tree.js';
import { COMPRESSIONS, compressStream, walkInitramfs, type InitramfsCompression } from '../cpio/initramfs.js';
import { extractSegments, findFile } from '../cpio/extract.js';
import { longLine } from '../cpio/list.js';
import { encodeName } from '../cpio/layout.js';
import { FormatError } from '../bytes/errors.js';
import { parseIntAuto, printable, runMain, UsageError } from './run.js';

const HELP = `Usage: initramfs <command> [options]

Commands:
  pack -o OUT [--dir ROOT | --spec FILE]   build an initramfs (default input: a path list on stdin)
  ls [-l] IMG                              list the entries of every segment (cpio -t / -tv)
  info IMG                                 the segments: offset, compression, sizes, entries
  extract IMG DIR                          extract every segment into DIR, never outside it
  cat IMG PATH                             write one file's content to standard output

Run 'initramfs <command> --help' for the options of one command.
`;

const PACK_HELP = `Usage: initramfs pack -o OUT [input] [options]

Input (one of):
  --dir ROOT            a directory tree, walked in sorted order with "." first: the same bytes as
                        cd ROOT && find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0
  --spec FILE           a gen_init_cpio list (file dir nod slink pipe sock): device nodes need no root
  (none)                paths on standard input, one per line (or NUL-separated with -0), as cpio -o

Options:
  -o, --output OUT      the image to write ('-': standard output); written under a temporary name
  -0, --null            standard input paths are NUL-separated (find -print0)
  -D, --directory DIR   resolve standard-input paths against DIR
  -H, --format F        newc (default) or crc (070702: the kernel verifies the byte sums)
  --compress C          ${COMPRESSIONS.join('|')} (default none); defaults as nixpkgs:
                        gzip -9n, xz --check=crc32 --lzma2=dict=512KiB, zstd -10, lz4 -l (legacy frame)
  --level N             compression level
  --threads N           gzip: blocks compressed in parallel (default 4; output does not depend on it)
  --encoder NAME        lzma: liblzma (default; xz --format=lzma's bytes) or imgkit (imgkit's encoder,
                        match finder on a second core: faster on two cores, other bytes, same size)
  --prepend FILE        an uncompressed cpio (early microcode) put first; repeatable
  --keep-owner          keep uid/gid (default: 0:0)
  --mtime N             set every mtime to N (gen_init_cpio -t)
  --dir-nlink stat|2    directory nlink: 2 (GNU cpio >= 2.14 --reproducible, default) or the real count (2.13)
  --data-align N        align file data to N bytes by padding names (gen_init_cpio -a)
SOURCE_DATE_EPOCH, when set, clamps every mtime to at most its value.
`;

const LS_HELP = `Usage: initramfs ls [-l] [-n] IMG

Lists the entries of every segment in order (GNU cpio and bsdcpio stop at the first trailer).
  -l, --long      cpio -tv style: mode, links, owner, size (major, minor for devices), date (UTC), name
  -n, --numeric   owners as numbers
`;

const EXTRACT_HELP = `Usage: initramfs extract IMG DIR

Extracts every segment into DIR. Names with "..", absolute names and entries below a symlink are
refused. Device nodes and fifos are made with mknod (device nodes need root). Every name is checked
before anything is written, and an extraction that fails removes what it made.
`;

const CAT_HELP = `Usage: initramfs cat IMG PATH

Writes the content of the regular file PATH (the last entry of that name) to standard output.
`;

const INFO_HELP = `Usage: initramfs info IMG [--json]

Prints each segment: offset, bytes in the image, compression, decompressed bytes, entries.
`;

const wantsHelp = (argv: string[]): boolean => argv.includes('--help') || argv.includes('-h');

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'] & {};

function parse<const T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
}

async function readStdin(): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of process.stdin) parts.push(c as Uint8Array);
  return Buffer.from(concat(parts)).toString('utf8');
}

function epochFromEnv(): number | undefined {
  const v = process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`SOURCE_DATE_EPOCH '${v}' is not a number of seconds`);
  return Number(v);
}

const stdoutSink = (): ByteSink => {
  let position = 0;
  return {
    get position() {
      return position;
    },
    writev: (chunks) => {
      for (const c of chunks) position += c.length;
      return new Promise<void>((resolve, reject) => {
        const data = concat([...chunks]);
        process.stdout.write(data, (e) => (e ? reject(e) : resolve()));
      });
    },
    close: async () => {},
  };
};

async function pack(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return void process.stdout.write(PACK_HELP), 0;
  // the writing side loads only here: ls, info, extract and cat do not need it
  const [{ writeCpio }, { pathItems, walkTree }, { parseSpec, SpecError }] = await Promise.all([
    import('../cpio/write.js'), import('../cpio/tree.js'), import('../cpio/spec.js'),
  ]);
  const { values: v, positionals } = parse(argv, {
    output: { type: 'string', short: 'o' },
    dir: { type: 'string' },
    spec: { type: 'string' },
    null: { type: 'boolean', short: '0' },
    directory: { type: 'string', short: 'D' },
    format: { type: 'string', short: 'H' },
    compress: { type: 'string' },
    level: { type: 'string' },
    threads: { type: 'string' },
    encoder: { type: 'string' },
    prepend: { type: 'string', multiple: true },
    'keep-owner': { type: 'boolean' },
    mtime: { type: 'string' },
    'dir-nlink': { type: 'string' },
    'data-align': { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const out = v.output as string | undefined;
  if (!out) throw new UsageError('pack needs -o OUT');
  if (v.dir && v.spec) throw new UsageError('--dir and --spec cannot be used together');
  const format = (v.format as string | undefined) ?? 'newc';
  if (format !== 'newc' && format !== 'crc') throw new UsageError(`--format must be newc or crc, not '${format}'`);
  const compression = ((v.compress as string | undefined) ?? 'none') as InitramfsCompression;
  if (!COMPRESSIONS.includes(compression)) throw new UsageError(`--compress must be one of ${COMPRESSIONS.join(', ')}, not '${compression}'`);
  const level = v.level === undefined ? undefined : parseIntAuto(v.level as string, '--level');
  const threads = v.threads === undefined ? undefined : parseIntAuto(v.threads as string, '--threads');
  const encoder = v.encoder as string | undefined;
  if (encoder !== undefined && !isLzmaEncoder(encoder)) throw new UsageError(`--encoder must be liblzma or imgkit, not '${encoder}'`);
  if (encoder !== undefined && compression !== 'lzma') throw new UsageError('--encoder applies to --compress lzma only');
  const mtime = v.mtime === undefined ? undefined : parseIntAuto(v.mtime as string, '--mtime');
  const align = v['data-align'] === undefined ? undefined : parseIntAuto(v['data-align'] as string, '--data-align');
  const nl = (v['dir-nlink'] as string | undefined) ?? '2';
  if (nl !== '2' && nl !== 'stat') throw new UsageError(`--dir-nlink must be 2 or stat, not '${nl}'`);
  const clampMtime = epochFromEnv();
  const topts: TreeOptions = {
    dirNlink: nl === 'stat' ? 'stat' : 2,
    ...(v['keep-owner'] && { keepOwner: true }),
    ...(mtime !== undefined && { mtime }),
    ...(clampMtime !== undefined && { clampMtime }),
  };

  let items: CpioItem[];
  if (v.dir) items = await walkTree(v.dir as string, topts);
  else if (v.spec) {
    try {
      items = await parseSpec(new TextDecoder().decode(await readInput(v.spec as string, 'cpio')), { ...(mtime !== undefined && { mtime }), ...(clampMtime !== undefined && { clampMtime }) });
    } catch (e) {
      if (e instanceof SpecError) throw Object.assign(new Error(`${v.spec as string}: ${e.message}`), { exitCode: 1 });
      throw e;
    }
  } else {
    if (process.stdin.isTTY) throw new UsageError('pack needs --dir, --spec or a path list on standard input');
    const text = await readStdin();
    const paths = text.split(v.null ? '\0' : '\n').filter((p) => p !== '');
    items = await pathItems(paths, { ...topts, ...(v.directory !== undefined && { cwd: v.directory as string }) });
  }

  const prepend: Uint8Array[] = [];
  for (const p of (v.prepend as string[] | undefined) ?? []) {
    const b = await readInput(p, 'cpio');
    try {
      decodeCpio(b); // an early cpio must be uncompressed: the kernel's early scanner reads only those
    } catch (e) {
      if (e instanceof FormatError) throw Object.assign(new Error(`${p}: not an uncompressed cpio archive: ${e.message}`), { exitCode: 1 });
      throw e;
    }
    prepend.push(b, new Uint8Array((4 - (b.length % 4)) % 4));
  }

  const write = async (sink: ByteSink): Promise<void> => {
    if (prepend.length) await sink.writev(prepend);
    const archive = writeCpio(items, { format, ...(align !== undefined && { dataAlign: align }) });
    // several writes in flight: the thread pool runs them side by side while the next batch is built
    const w = writeBehind(sink, 8);
    try {
      for await (const c of compressStream(archive, compression, { ...(level !== undefined && { level }), ...(threads !== undefined && { parallel: threads }), ...(encoder && { encoder }) })) await w.write([c]);
    } finally {
      await w.flush();
    }
  };
  if (out === '-') await write(stdoutSink());
  else await withOutputFile(out, write, { named: true });
  return 0;
}

async function segmentsOf(path: string) {
  return walkInitramfs(await readInput(path, 'cpio'));
}

async function ls(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return void process.stdout.write(LS_HELP), 0;
  const { values: v, positionals } = parse(argv, { long: { type: 'boolean', short: 'l' }, numeric: { type: 'boolean', short: 'n' } });
  if (positionals.length !== 1) throw new UsageError('ls needs one image');
  const lines: string[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (const seg of await segmentsOf(positionals[0]!))
    for (const r of seg.records) lines.push(v.long ? longLine(r, { now, ...(v.numeric && { numeric: true }) }) : r.entry.name);
  // names as stored, bytes that are not UTF-8 included, as cpio -t prints them
  process.stdout.write(lines.length ? encodeName(`${lines.join('\n')}\n`) : '');
  return 0;
}

async function info(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return void process.stdout.write(INFO_HELP), 0;
  const { values: v, positionals } = parse(argv, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('info needs one image');
  const segs = (await segmentsOf(positionals[0]!)).map((s) => ({
    offset: s.offset, size: s.size, compression: s.compression, rawSize: s.rawSize, archives: s.archives, entries: s.records.length,
  }));
  if (v.json) process.stdout.write(`${JSON.stringify(segs, null, 2)}\n`);
  else
    for (const [i, s] of segs.entries())
      process.stdout.write(`segment ${i}: offset 0x${s.offset.toString(16)}, ${s.size} bytes, ${s.compression}${s.compression === 'none' ? '' : ` (${s.rawSize} bytes decompressed)`}, ${s.archives} archive${s.archives === 1 ? '' : 's'}, ${s.entries} entries\n`);
  return 0;
}

async function extract(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return void process.stdout.write(EXTRACT_HELP), 0;
  const { positionals } = parse(argv, {});
  if (positionals.length !== 2) throw new UsageError('extract needs an image and a folder');
  const warn = (name: string, msg: string): void => void process.stderr.write(printable(`initramfs: ${name}: ${msg}`) + '\n');
  await extractSegments(await segmentsOf(positionals[0]!), positionals[1]!, { onWarning: warn });
  return 0;
}

async function cat(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return void process.stdout.write(CAT_HELP), 0;
  const { positionals } = parse(argv, {});
  if (positionals.length !== 2) throw new UsageError('cat needs an image and a path');
  const records = (await segmentsOf(positionals[0]!)).flatMap((s) => s.records);
  const hit = findFile(records, positionals[1]!);
  if (!hit) throw Object.assign(new Error(`${positionals[1]!}: not in the image`), { exitCode: 1 });
  if ((hit.entry.mode & 0o170000) !== 0o100000) throw Object.assign(new Error(`${positionals[1]!}: not a regular file`), { exitCode: 1 });
  await new Promise<void>((resolve, reject) => process.stdout.write(hit.data, (e) => (e ? reject(e) : resolve())));
  return 0;
}

runMain('initramfs', async (argv) => {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'pack': return pack(rest);
    case 'ls': return ls(rest);
    case 'info': return info(rest);
    case 'extract': return extract(rest);
    case 'cat': return cat(rest);
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
});
