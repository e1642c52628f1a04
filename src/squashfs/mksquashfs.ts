/**
 * mksquashfs 4.5's command line (`mksquashfs source1 source2 ... FILESYSTEM [OPTIONS] [-e list]`),
 * so a build swaps the binary and keeps its arguments, plus `-pack-file`/`-pack-dir` for
 * gensquashfs pack files (then the sources may be left out). Parsing only: the result feeds
 * scanSources() and writeSquashfs().
 */
import { XZ_FILTERS, GZIP_STRATEGIES, type CompressorOptions } from './compressor.js';
import { COMPRESSOR, type CompressorName } from './layout.js';
import type { WriteOptions } from './write.js';

export class MksquashfsUsageError extends Error {
  override readonly name = 'MksquashfsUsageError';
}

export interface MksquashfsArgs {
  sources: string[];
  dest: string;
  write: WriteOptions & { compressor: CompressorName; compressorOptions: CompressorOptions; blockSize: number };
  noAppend: boolean;
  allRoot: boolean;
  forceUid?: number;
  forceGid?: number;
  rootMode?: number;
  keepAsDirectory: boolean;
  noHardlinks: boolean;
  mkfsTime?: number;
  allTime?: number;
  exclude: string[];
  excludeFiles: string[];
  /** -p definitions and -pf files ('-' is standard input), in command-line order. */
  pseudo: (string | { file: string })[];
  quiet: boolean;
  /** -no-progress (or -quiet): no progress bar even on a terminal. */
  noProgress: boolean;
  /** -info: list each file as it is stored. */
  info: boolean;
  /** -sort FILE. */
  sortFile?: string;
  /** -wildcards: -e/-ef patterns are globs (a leading "... " makes one match at any depth). */
  wildcards: boolean;
  /** -regex: -e/-ef patterns are POSIX extended regular expressions, per path component. The later of -wildcards and -regex wins. */
  regex: boolean;
  /** -pack-file FILE (repeatable; '-' is standard input): gensquashfs pack files, applied in order before the pseudo definitions. */
  packFiles: string[];
  /** -pack-dir DIR: where pack-file locations are relative to (default: each pack file's folder). */
  packDir?: string;
  /** -root-becomes NAME (appending). */
  rootBecomes?: string;
  processors?: number;
  /** SOURCE_DATE_EPOCH: inode times after it are clamped to it. */
  clampTime?: number;
}

const u32 = (s: string | undefined, what: string): number => {
  if (s === undefined || !/^\d+$/.test(s) || Number(s) > 0xffff_ffff) throw new MksquashfsUsageError(`${what}: "${s ?? ''}" is not an unsigned 32-bit number`);
  return Number(s);
};

/** "131072", "128K", "128k", "1M". */
export function parseSize(s: string | undefined, what: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(s ?? '');
  if (!m) throw new MksquashfsUsageError(`${what}: "${s ?? ''}" is not a size`);
  return Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]!) ? 1024 : 1024 * 1024);
}

export function parseMksquashfsArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): MksquashfsArgs {
  const positional: string[] = [];
  let i = 0;
  for (; i < argv.length && !argv[i]!.startsWith('-'); i++) positional.push(argv[i]!);
  // "-" alone is the "no sources" source of 4.5
  while (i < argv.length && argv[i] === '-') {
    positional.push(argv[i]!);
    for (i++; i < argv.length && !argv[i]!.startsWith('-'); i++) positional.push(argv[i]!);
  }
  if (positional.length === 0) throw new MksquashfsUsageError('pack needs at least one source and the output image');
  const dest = positional.pop()!;
  const noSources = positional.length === 0;
  const sources = positional.filter((s) => s !== '-');
  const a: MksquashfsArgs = {
    sources, dest, write: { compressor: 'gzip', compressorOptions: {}, blockSize: 131_072 }, noAppend: false, allRoot: false,
    keepAsDirectory: false, noHardlinks: false, exclude: [], excludeFiles: [], pseudo: [], quiet: false,
    noProgress: false, info: false, wildcards: false, regex: false, packFiles: [],
  };
  const w = a.write;
  const x: CompressorOptions = {};
  let dictSize: string | undefined;
  const value = (opt: string) => {
    const v = argv[++i];
    if (v === undefined) throw new MksquashfsUsageError(`${opt}: missing argument`);
    return v;
  };
  for (; i < argv.length; i++) {
    const opt = argv[i]!;
    switch (opt) {
      case '-comp': {
        const c = value(opt);
        if (!Object.hasOwn(COMPRESSOR, c)) throw new MksquashfsUsageError(`-comp: compressor "${c}" is not one of ${Object.keys(COMPRESSOR).join(', ')}`);
        w.compressor = c as CompressorName;
        break;
      }
      case '-b': {
        const b = parseSize(value(opt), '-b');
        if (!Number.isInteger(Math.log2(b)) || b < 4096 || b > 1048576) throw new MksquashfsUsageError(`-b: block size ${b} must be a power of two between 4096 and 1048576`);
        w.blockSize = b;
        break;
      }
      case '-Xcompression-level': x.level = u32(value(opt), opt); break;
      case '-Xwindow-size': x.windowSize = u32(value(opt), opt); break;
      case '-Xstrategy': {
        let mask = 0;
        for (const s of value(opt).split(',')) {
          const f = GZIP_STRATEGIES.find(([n]) => n === s);
          if (!f) throw new MksquashfsUsageError(`-Xstrategy: unknown strategy "${s}"`);
          mask |= f[1];
        }
        x.strategies = mask;
        break;
      }
      case '-Xdict-size': dictSize = value(opt); break;
      case '-Xbcj': {
        let mask = 0;
        for (const s of value(opt).split(',')) {
          const f = XZ_FILTERS.find(([n]) => n === s);
          if (!f) throw new MksquashfsUsageError(`-Xbcj: unknown filter "${s}" (x86, powerpc, ia64, arm, armthumb, sparc)`);
          mask |= f[1];
        }
        x.filters = mask;
        break;
      }
      case '-Xhc': x.hc = true; break;
      case '-Xlibdeflate': x.libdeflate = true; break;
      case '-Xalgorithm': {
        const names = ['lzo1x_1', 'lzo1x_1_11', 'lzo1x_1_12', 'lzo1x_1_15', 'lzo1x_999'];
        const k = names.indexOf(value(opt));
        if (k < 0) throw new MksquashfsUsageError(`-Xalgorithm: unknown algorithm "${argv[i]}"`);
        x.algorithm = k;
        break;
      }
      // OpenWrt's patched mksquashfs (tools/squashfs4 patch 101): encoder-only xz/lzma settings
      case '-Xpreset': x.preset = u32(value(opt), opt); break;
      case '-Xe': x.extreme = true; break;
      case '-Xlc': x.lc = u32(value(opt), opt); break;
      case '-Xlp': x.lp = u32(value(opt), opt); break;
      case '-Xpb': x.pb = u32(value(opt), opt); break;
      case '-noappend': a.noAppend = true; break;
      case '-all-root': case '-root-owned': a.allRoot = true; break;
      case '-force-uid': a.forceUid = u32(value(opt), opt); break;
      case '-force-gid': a.forceGid = u32(value(opt), opt); break;
      case '-root-mode': {
        const m = value(opt);
        if (!/^[0-7]{1,4}$/.test(m)) throw new MksquashfsUsageError(`-root-mode: "${m}" is not an octal mode`);
        a.rootMode = parseInt(m, 8);
        break;
      }
      case '-keep-as-directory': a.keepAsDirectory = true; break;
      case '-no-xattrs': w.noXattrs = true; break;
      case '-xattrs': w.noXattrs = false; break;
      case '-no-fragments': w.noFragments = true; break;
      case '-always-use-fragments': case '-tailends': w.alwaysUseFragments = true; break;
      case '-no-duplicates': w.noDuplicates = true; break;
      case '-no-sparse': w.noSparse = true; break;
      case '-no-exports': w.noExports = true; break;
      case '-exports': w.noExports = false; break;
      case '-no-hardlinks': a.noHardlinks = true; break;
      case '-mkfs-time': case '-fstime': a.mkfsTime = u32(value(opt), opt); break;
      case '-all-time': a.allTime = u32(value(opt), opt); break;
      case '-fixed-time': a.mkfsTime = a.allTime = u32(value(opt), opt); break; // OpenWrt patch 200
      case '-reproducible': case '-not-reproducible': break; // 4.4-4.6: ordering; this writer is always reproducible
      case '-processors': a.processors = u32(value(opt), opt); break;
      case '-mem': value(opt); break;
      case '-nopad': w.pad = false; break;
      case '-quiet': a.quiet = true; break;
      case '-no-progress': a.noProgress = true; break;
      case '-progress': a.noProgress = false; break;
      case '-info': a.info = true; break;
      case '-no-recovery': case '-exit-on-error': case '-recover': break;
      case '-pf': a.pseudo.push({ file: value(opt) }); break;
      case '-sort': a.sortFile = value(opt); break;
      case '-wildcards': a.wildcards = true; a.regex = false; break;
      case '-regex': a.regex = true; a.wildcards = false; break;
      case '-pack-file': case '--pack-file': a.packFiles.push(value(opt)); break;
      case '-pack-dir': case '--pack-dir': a.packDir = value(opt); break;
      case '-root-becomes': a.rootBecomes = value(opt); break;
      case '-noI': case '-noInodeCompression': w.noInodeCompression = true; break;
      case '-noD': case '-noDataCompression': w.noDataCompression = true; break;
      case '-noF': case '-noFragmentCompression': w.noFragmentCompression = true; break;
      case '-noX': case '-noXattrCompression': w.noXattrCompression = true; break;
      case '-p': a.pseudo.push(value(opt)); break;
      case '-ef': a.excludeFiles.push(value(opt)); break;
      case '-e':
        // NixWRT passes "-e A -e B": a repeated -e is a separator, not a path
        a.exclude.push(...argv.slice(i + 1).filter((x) => x !== '-e'));
        i = argv.length;
        break;
      default:
        throw new MksquashfsUsageError(`option ${opt} is not supported${['-tar', '-cpiostyle', '-no-strip', '-tarstyle', '-offset', '-o'].includes(opt) ? ' yet (squashfs part 2)' : ''}`);
    }
  }
  // an image made from pack files alone names no source: "squashfs pack IMG -pack-file FILE"
  if (noSources && a.packFiles.length === 0) throw new MksquashfsUsageError('pack needs at least one source and the output image');
  if (a.packDir !== undefined && a.packFiles.length === 0) throw new MksquashfsUsageError('-pack-dir needs -pack-file');
  if (dictSize !== undefined) {
    if (w.compressor !== 'xz') throw new MksquashfsUsageError('-Xdict-size needs -comp xz');
    const pct = /^(\d+)%$/.exec(dictSize);
    const d = pct ? Math.floor((w.blockSize * Number(pct[1])) / 100) : parseSize(dictSize, '-Xdict-size');
    const n = Math.log2(d), m = Math.log2(d / 3);
    if (d < 8192 || d > w.blockSize || (!Number.isInteger(n) && !Number.isInteger(m)))
      throw new MksquashfsUsageError(`-Xdict-size: ${d} must be 2^n or 2^n+2^(n+1), at least 8192 and at most the block size`);
    x.dictSize = d;
  }
  const c = w.compressor;
  if (x.level !== undefined) {
    const [lo, hi] = c === 'gzip' || c === 'lzo' ? [1, 9] : c === 'zstd' ? [1, 22] : [0, -1];
    if (hi < 0) throw new MksquashfsUsageError(`-Xcompression-level is not an option of ${c}`);
    if (x.level < lo || x.level > hi) throw new MksquashfsUsageError(`-Xcompression-level: ${x.level} is outside ${lo}..${hi}`);
  }
  if (x.windowSize !== undefined && (c !== 'gzip' || x.windowSize < 8 || x.windowSize > 15)) throw new MksquashfsUsageError('-Xwindow-size needs -comp gzip and 8..15');
  if (x.filters !== undefined && c !== 'xz') throw new MksquashfsUsageError('-Xbcj needs -comp xz');
  if (x.hc && c !== 'lz4') throw new MksquashfsUsageError('-Xhc needs -comp lz4');
  if (x.libdeflate && c !== 'gzip') throw new MksquashfsUsageError('-Xlibdeflate needs -comp gzip');
  if (x.libdeflate && ((x.windowSize ?? 15) !== 15 || (x.strategies ?? 0) & ~0x1))
    throw new MksquashfsUsageError('-Xlibdeflate takes neither -Xwindow-size below 15 nor -Xstrategy other than default (libdeflate has neither)');
  if ((x.preset !== undefined || x.extreme || x.lc !== undefined || x.lp !== undefined || x.pb !== undefined) && c !== 'xz' && c !== 'lzma')
    throw new MksquashfsUsageError('-Xpreset, -Xe, -Xlc, -Xlp and -Xpb need -comp xz or lzma');
  if (c === 'lzo') throw new MksquashfsUsageError('-comp lzo: writing lzo images is not supported (reading them is)');
  w.compressorOptions = x;
  const sde = env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && sde !== '') {
    const t = u32(sde, 'SOURCE_DATE_EPOCH');
    a.mkfsTime ??= t;
    a.clampTime = t;
  }
  return a;
}
