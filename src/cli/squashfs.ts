/** `squashfs`: build (mksquashfs's command line), list, cat, extract and describe SquashFS 4.0 images. */
import { parseArgs } from 'node:util';
import { fileAccess } from '../bytes/random.js';
import { openSquashfs, type Squashfs } from '../squashfs/read.js';
import { parseIntAuto, printable, runMain, UsageError } from './run.js';

const HELP = `Usage: squashfs <command> [options]

Commands:
  pack SOURCE... IMG [mksquashfs options]   build an image; takes mksquashfs 4.5's arguments
  ls [-l] IMG [PATH]                        list paths (-l: as unsquashfs -lln -UTC, devices decoded)
  cat IMG PATH                              write a file's content to standard output
  extract IMG DIR [PATH]                    extract everything (or PATH) into DIR, never outside it
  info IMG [--json]                         superblock summary, as unsquashfs -s
  unpack-pf [--xattrs] IMG [FILE|-]         the image as a mksquashfs pseudo file (unsquashfs -pf);
                                            'squashfs pack - NEW -pf FILE' rebuilds it

Reader options: --offset N  the image starts N bytes into the file (firmware blobs)
Run 'squashfs pack --help' for the pack options.
`;

const EXTRACT_HELP = `Usage: squashfs extract [--offset N] [-n|-no-progress] [-q|-quiet] IMG DIR [PATH]

Extracts everything (or PATH) into DIR, as unsquashfs -d DIR IMG [PATH], never writing outside DIR.
On a terminal a progress bar shows the entries and bytes reached; -no-progress leaves it out, and
-quiet prints nothing but errors and warnings (no bar, no counts at the end). An extraction that
fails (a corrupt block, a name refused) removes what it made.
`;

const PACK_HELP = `Usage: squashfs pack SOURCE... IMG [options] [-e EXCLUDE...]

Takes mksquashfs 4.5's syntax. One source directory becomes the root; several sources (or
-keep-as-directory) become root entries. Supported options:
  -comp gzip|xz|zstd|lz4|lzma  -b SIZE (4K..1M)  -Xcompression-level N  -Xwindow-size N  -Xstrategy LIST
  -Xdict-size N|N%  -Xbcj x86,arm,armthumb,powerpc,sparc,ia64  -Xhc  -Xpreset N -Xe -Xlc N -Xlp N -Xpb N (OpenWrt)
  -Xlibdeflate  gzip blocks deflated by libdeflate: ~1% smaller, faster at levels below 9, but not
                mksquashfs's bytes (without it, gzip images are byte-identical to mksquashfs's)
  -noappend  -all-root|-root-owned  -force-uid N  -force-gid N  -root-mode MODE  -keep-as-directory
  -no-xattrs -xattrs  -no-fragments  -always-use-fragments  -no-duplicates  -no-sparse  -no-exports
  -no-hardlinks  -mkfs-time T  -all-time T  -reproducible  -processors N  -e PATH...  -ef FILE  -nopad
  -quiet  -no-progress  -info  -noI -noD -noF -noX  -sort FILE  -wildcards  -regex
  -p "pseudo definition"  -pf FILE|-   (types d m b c f s i l L x, timed D M B C F S I, R)
  -pack-file FILE|-  -pack-dir DIR     gensquashfs pack files (file dir nod slink link pipe sock glob),
                                       applied before -p/-pf; with them, SOURCE may be left out
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

async function write(s: string | Uint8Array): Promise<void> {
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
      // each command loads only what it uses: listing an image should not compile the writer
      const [{ packFromArgs }, { MksquashfsUsageError }, { PseudoError, PseudoInputError }, { progressBar, summary }] = await Promise.all([
        import('../squashfs/pack.js'), import('../squashfs/mksquashfs.js'), import('../squashfs/pseudo.js'), import('../squashfs/progress.js'),
      ]);
      const quiet = rest.includes('-quiet');
      // -info turns the bar off unless -progress asks for it, as in mksquashfs
      const info = rest.includes('-info');
      const wantBar = info ? rest.includes('-progress') : !rest.includes('-no-progress');
      const bar = !quiet && wantBar && process.stderr.isTTY ? progressBar() : undefined;
      let infoText = '';
      try {
        const { args, result } = await packFromArgs(rest, process.env, (m) => {
          if (!quiet) process.stderr.write(`squashfs: warning: ${printable(m)}\n`);
        }, { ...bar, ...(info && { onInfo: (line: string) => void (infoText += line + '\n') }) });
        await write(infoText);
        bar?.done();
        if (!args.quiet) process.stderr.write(summary(args.dest, result));
      } catch (e) {
        bar?.done();
        if (e instanceof MksquashfsUsageError || (e instanceof PseudoError && !(e instanceof PseudoInputError))) throw new UsageError(e.message);
        throw e;
      }
      return 0;
    }
    case 'ls': {
      const { values, positionals } = readerArgs(rest);
      if (values.help) return void process.stdout.write('Usage: squashfs ls [-l] [--offset N] IMG [PATH]\n');
      const [img, path, ...more] = positionals;
      if (!img || more.length) throw new UsageError('ls takes an image and an optional path');
      const [fs, { listingBytes }] = await Promise.all([open(img, offsetOf(values.offset)), import('../squashfs/list.js')]);
      try {
        for await (const chunk of listingBytes(fs, path ?? '/', 'squashfs-root', !!values.long)) await write(chunk);
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
        for await (const c of fs.createReadStream(inode, { ahead: 4 })) {
          if (!process.stdout.write(c)) await new Promise((r) => process.stdout.once('drain', r));
        }
      } finally {
        await fs.close();
      }
      return 0;
    }
    case 'extract': {
      // unsquashfs's -n[o-progress] and -q[uiet], in either spelling
      const noBar = ['-n', '-no-progress', '--no-progress'], quietFlags = ['-q', '-quiet', '--quiet'];
      const quiet = rest.some((a) => quietFlags.includes(a));
      const wantBar = !quiet && !rest.some((a) => noBar.includes(a)) && process.stderr.isTTY;
      const { values, positionals } = readerArgs(rest.filter((a) => !noBar.includes(a) && !quietFlags.includes(a)));
      if (values.help) return void process.stdout.write(EXTRACT_HELP);
      const [img, dir, path, ...more] = positionals;
      if (!img || !dir || more.length) throw new UsageError('extract takes an image, a folder and an optional path');
      const [fs, { extractSquashfs }, { progressBar }] = await Promise.all([
        open(img, offsetOf(values.offset)), import('../squashfs/extract.js'), wantBar ? import('../squashfs/progress.js') : { progressBar: undefined },
      ]);
      // every inode of the image when all of it is extracted; a subtree's count is not known ahead
      const bar = progressBar?.(process.stderr, 'entries');
      bar?.onStart(path === undefined || path === '/' ? fs.superblock.inodes : 0, 0);
      try {
        const r = await extractSquashfs(fs, dir, {
          ...(path !== undefined && { path }),
          // on a terminal the bar's line is cleared first; the bar is drawn again on the next line
          onWarning: (m) => process.stderr.write(`${bar ? '\r\x1b[K' : ''}squashfs: warning: ${printable(m)}\n`),
          ...(bar && { onProgress: (n: number, bytes: number) => bar.onProgress(n, bytes) }),
        });
        bar?.done();
        if (!quiet) process.stderr.write(`${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks, ${r.devices} devices${r.skipped ? `, ${r.skipped} skipped` : ''}\n`);
      } finally {
        bar?.done();
        await fs.close();
      }
      return 0;
    }
    case 'info': {
      const { values, positionals } = readerArgs(rest);
      if (values.help) return void process.stdout.write('Usage: squashfs info [--json] [--offset N] IMG\n');
      const [img, ...more] = positionals;
      if (!img || more.length) throw new UsageError('info takes one image');
      const [fs, { formatInfo }, { flagNames }] = await Promise.all([open(img, offsetOf(values.offset)), import('../squashfs/text.js'), import('../squashfs/super.js')]);
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
    case 'unpack-pf': {
      let parsed;
      try {
        parsed = parseArgs({ args: rest, allowPositionals: true, options: { offset: { type: 'string' }, xattrs: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const { values, positionals } = parsed;
      if (values.help) return void process.stdout.write('Usage: squashfs unpack-pf [--xattrs] [--offset N] IMG [FILE|-]\n');
      const [img, out, ...more] = positionals;
      if (!img || more.length) throw new UsageError('unpack-pf takes an image and an optional output file');
      const [fs, { formatPseudoFile }, { pipeInto, withOutputFile }] = await Promise.all([
        open(img, offsetOf(values.offset)), import('../squashfs/pseudo-dump.js'), import('../bytes/sink.js'),
      ]);
      try {
        const chunks = formatPseudoFile(fs, { xattrs: !!values.xattrs });
        if (out === undefined || out === '-') {
          for await (const c of chunks) await write(c);
        } else await withOutputFile(out, (sink) => pipeInto(sink, chunks), { named: true }); // nothing left behind on an error
      } finally {
        await fs.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
});
