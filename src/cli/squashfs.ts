/** `squashfs`: build (mksquashfs's command line), list, cat, extract and describe SquashFS 4.0 images. */
import { parseArgs } from 'node:util';
import { fileAccess } from '../bytes/random.js';
import { openSquashfs, type Squashfs } from '../squashfs/read.js';
import { longListing, formatInfo } from '../squashfs/text.js';
import { extractSquashfs } from '../squashfs/extract.js';
import { packFromArgs } from '../squashfs/pack.js';
import { MksquashfsUsageError } from '../squashfs/mksquashfs.js';
import { PseudoError } from '../squashfs/pseudo.js';
import { flagNames } from '../squashfs/super.js';
import { parseIntAuto, runMain, UsageError } from './run.js';
import { progressBar, summary } from '../squashfs/progress.js';

const HELP = `Usage: squashfs <command> [options]

Commands:
  pack SOURCE... IMG [mksquashfs options]   build an image; takes mksquashfs 4.5's arguments
  ls [-l] IMG [PATH]                        list paths (-l: as unsquashfs -lln -UTC, devices decoded)
  cat IMG PATH                              write a file's content to standard output
  extract IMG DIR [PATH]                    extract everything (or PATH) into DIR, never outside it
  info IMG [--json]                         superblock summary, as unsquashfs -s

Reader options: --offset N  the image starts N bytes into the file (firmware blobs)
Run 'squashfs pack --help' for the pack options.
`;

const PACK_HELP = `Usage: squashfs pack SOURCE... IMG [options] [-e EXCLUDE...]

Takes mksquashfs 4.5's syntax. One source directory becomes the root; several sources (or
-keep-as-directory) become root entries. Supported options:
  -comp gzip|xz|zstd|lz4|lzma  -b SIZE (4K..1M)  -Xcompression-level N  -Xwindow-size N  -Xstrategy LIST
  -Xdict-size N|N%  -Xbcj x86,arm,armthumb,powerpc,sparc,ia64  -Xhc  -Xpreset N -Xe -Xlc N -Xlp N -Xpb N (OpenWrt)
  -noappend  -all-root|-root-owned  -force-uid N  -force-gid N  -root-mode MODE  -keep-as-directory
  -no-xattrs -xattrs  -no-fragments  -always-use-fragments  -no-duplicates  -no-sparse  -no-exports
  -no-hardlinks  -mkfs-time T  -all-time T  -reproducible  -processors N  -e PATH...  -ef FILE  -nopad
  -quiet  -no-progress  -info  -noI -noD -noF -noX  -sort FILE  -wildcards
  -p "pseudo definition"  -pf FILE|-   (types d m b c f s i l L x, timed D M B C F S I)
  SOURCE "-" means no sources: an image made of pseudo definitions only
SOURCE_DATE_EPOCH sets the image time and clamps newer file times. Without it or -mkfs-time the
image time is the newest file time, so the output is the same on every run.
`;

async function open(img: string, offset: number): Promise<Squashfs> {
  const ra = await fileAccess(img, 'squashfs');
  try {
    return await openSquashfs(ra, { offset });
  } catch (e) {
    await ra.close?.();
    throw e;
  }
}

function readerArgs(argv: string[]): { values: { offset?: string; help?: boolean; long?: boolean; json?: boolean }; positionals: string[] } {
  try {
    return parseArgs({
      args: argv, allowPositionals: true,
      options: { offset: { type: 'string' }, help: { type: 'boolean', short: 'h' }, long: { type: 'boolean', short: 'l' }, json: { type: 'boolean' } },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const offsetOf = (v: unknown): number => (typeof v === 'string' ? parseIntAuto(v, '--offset') : 0);

async function write(s: string): Promise<void> {
  if (!process.stdout.write(s)) await new Promise((r) => process.stdout.once('drain', r));
}

runMain('squashfs', async (argv) => {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  switch (cmd) {
    case 'pack': {
      if (rest.includes('--help') || rest.includes('-help') || rest.length === 0) {
        process.stdout.write(PACK_HELP);
        return rest.length === 0 ? 2 : 0;
      }
      const quiet = rest.includes('-quiet');
      const bar = !quiet && !rest.includes('-no-progress') && process.stderr.isTTY ? progressBar() : undefined;
      try {
        const { args, result } = await packFromArgs(rest, process.env, (m) => {
          if (!quiet) process.stderr.write(`squashfs: warning: ${m}\n`);
        }, bar ?? {});
        bar?.done();
        if (!args.quiet) process.stderr.write(summary(args.dest, result));
      } catch (e) {
        bar?.done();
        if (e instanceof MksquashfsUsageError || e instanceof PseudoError) throw new UsageError(e.message);
        throw e;
      }
      return 0;
    }
    case 'ls': {
      const { values, positionals } = readerArgs(rest);
      if (values.help) return void process.stdout.write('Usage: squashfs ls [-l] [--offset N] IMG [PATH]\n');
      const [img, path, ...more] = positionals;
      if (!img || more.length) throw new UsageError('ls takes an image and an optional path');
      const fs = await open(img, offsetOf(values.offset));
      try {
        let buf = '';
        for await (const line of longListing(fs, path ?? '/', 'squashfs-root', !!values.long)) {
          buf += line + '\n';
          if (buf.length > 65536) {
            await write(buf);
            buf = '';
          }
        }
        await write(buf);
      } finally {
        await fs.close();
      }
      return 0;
    }
    case 'cat': {
      const { values, positionals } = readerArgs(rest);
      if (values.help) return void process.stdout.write('Usage: squashfs cat [--offset N] IMG PATH\n');
      const [img, path, ...more] = positionals;
      if (!img || !path || more.length) throw new UsageError('cat takes an image and a path');
      const fs = await open(img, offsetOf(values.offset));
      try {
        const inode = await fs.lookup(path);
        if (inode.kind !== 'file') throw Object.assign(new Error(`${path}: not a regular file`), { code: 'EISDIR' });
        for await (const c of fs.createReadStream(inode)) {
          if (!process.stdout.write(c)) await new Promise((r) => process.stdout.once('drain', r));
        }
      } finally {
        await fs.close();
      }
      return 0;
    }
    case 'extract': {
      const { values, positionals } = readerArgs(rest);
      if (values.help) return void process.stdout.write('Usage: squashfs extract [--offset N] IMG DIR [PATH]\n');
      const [img, dir, path, ...more] = positionals;
      if (!img || !dir || more.length) throw new UsageError('extract takes an image, a folder and an optional path');
      const fs = await open(img, offsetOf(values.offset));
      try {
        const r = await extractSquashfs(fs, dir, { ...(path !== undefined && { path }), onWarning: (m) => process.stderr.write(`squashfs: warning: ${m}\n`) });
        process.stderr.write(`${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks, ${r.devices} devices${r.skipped ? `, ${r.skipped} skipped` : ''}\n`);
      } finally {
        await fs.close();
      }
      return 0;
    }
    case 'info': {
      const { values, positionals } = readerArgs(rest);
      if (values.help) return void process.stdout.write('Usage: squashfs info [--json] [--offset N] IMG\n');
      const [img, ...more] = positionals;
      if (!img || more.length) throw new UsageError('info takes one image');
      const fs = await open(img, offsetOf(values.offset));
      try {
        if (values.json) {
          const sb = fs.superblock;
          await write(JSON.stringify({
            ...sb, flagNames: flagNames(sb.flags), compressorOptions: fs.compressorOptions ?? null, xattrIds: fs.xattrIds?.count ?? 0,
            offset: offsetOf(values.offset),
          }, null, 2) + '\n');
        } else await write(await formatInfo(fs, img));
      } finally {
        await fs.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
});
