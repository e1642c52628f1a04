/** `fdt`: device trees — compile (dtc), decompile, dump (fdtdump), get (fdtget), set (fdtput), overlay (fdtoverlay). */
import { once } from 'node:events';
import { basename, dirname, resolve } from 'node:path';
import { readInput, readTextSync } from '../bytes/input.js';
import { writeFileAtomic } from '../bytes/sink.js';
import { findNode, getProp, type FdtNode } from '../dtb/model.js';
import { decodeFdt } from '../dtb/read.js';
import { encodeFdt, type EncodeOptions } from '../dtb/write.js';
import { compileDts, fdtOf, parseDts, reprocessTree } from '../dtb/dts/compile.js';
import { dtsSource } from '../dtb/dts/source.js';
import type { DtInfo } from '../dtb/dts/parser.js';
import { DtsError } from '../dtb/dts/errors.js';
import { checkNames } from '../dtb/dts/checks.js';
import { fileAccessFor } from '../dtb/dts/files.js';
import type { preprocess as Preprocess } from '../dtb/cpp.js';
import { dumpLines, formatDts } from '../dtb/text.js';
import { parseArgs, runMain, UsageError } from './run.js';

const HELP = `Usage: fdt <command> [options]

Commands:
  compile [dtc options] IN        DTS (or DTB with -I dtb) to DTB or DTS, as dtc
  decompile IN.dtb [-o OUT]       DTS that recompiles to the same blob
  dump IN.dtb                     what fdtdump prints
  get [-t TYPE] [-d DEF] [-p|-l] IN NODE PROP...  as fdtget
  set [-t TYPE] [-c] [-p] IN NODE PROP VALUE...  as fdtput (-d PROP deletes, -r removes nodes)
  batch LIST --out-dir DIR [--cpp-I DIR] [-i DIR] [-q] [-W|-E [no-]CHECK]
                                                 compile many .dts as the kernel does (cpp + dtc -b 0)
  overlay BASE OV... [-o OUT]     apply overlays in order, byte-identical to fdtoverlay -i BASE -o OUT OV...
`;

const COMPILE_HELP = `Usage: fdt compile [options] IN

dtc's options:
  -I dts|dtb   input format (default: from the file name, else dts)
  -O dtb|dts   output format (default dtb; dts from dtb input)
  -o FILE      output (default: standard output)
  -i DIR       /include/ and /incbin/ search folder (repeatable; also a cpp -I folder)
  -p N  -S N  -a N  -R N  -b N  -V 16|17   blob padding, minimum size, alignment, memreserve slots, boot cpu, version
  -@  -A  -s  -H epapr|legacy|both  -f  -q
  -W [no-]CHECK  -E [no-]CHECK   turn a check's warning or error on or off (dtc's check names)
C preprocessor (the kernel's cpp -nostdinc -undef -x assembler-with-cpp):
  --cpp / --no-cpp   run it or not (default: when the source has #include/#define/#if lines)
  --cpp-I DIR        cpp -I folder (repeatable; the -i folders are searched too)
  -D NAME[=VAL]      cpp define (__DTS__ is always defined)
`;

const num = (s: string | undefined, what: string): number | undefined => {
  if (s === undefined) return undefined;
  const v = Number(s.trim().toLowerCase().startsWith('0x') ? parseInt(s, 16) : /^0[0-7]+$/.test(s) ? parseInt(s, 8) : Number(s));
  if (!Number.isSafeInteger(v)) throw new UsageError(`invalid number for ${what}: '${s}'`);
  return v;
};

/** Names and strings in a blob are bytes (latin1 strings here): they go out as the bytes they are. */
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The C preprocessor, loaded when a source uses it. */
const cpp = async (): Promise<typeof Preprocess> => (await import('../dtb/cpp.js')).preprocess;

function wrapSourceErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // CppError by name: the preprocessor loads only for sources that need it
    if (e instanceof DtsError || (e instanceof Error && e.name === 'CppError')) throw Object.assign(new Error(e.message), { exitCode: 1 });
    throw e;
  }
}

/** -W/-E in command-line order, each name checked as dtc checks it while reading its options (else dtc's message). */
function checkOptions(tokens: readonly { kind: string; name?: string; value?: string | undefined }[]): (readonly ['W' | 'E', string])[] | string {
  const checks = tokens.flatMap((t) => (t.kind === 'option' && (t.name === 'W' || t.name === 'E') ? [[t.name, t.value ?? ''] as const] : []));
  if (!checks.length) return checks;
  const known = new Set(checkNames());
  const bare = (arg: string) => (/^no[-_]/.test(arg) ? arg.slice(3) : arg);
  const bad = checks.find(([, arg]) => !known.has(bare(arg)));
  return bad ? `FATAL ERROR: Unrecognized check name "${bare(bad[1])}"\n` : checks;
}

async function compile(argv: string[]): Promise<number> {
  const { values: v, positionals, tokens } = parseArgs({
    args: argv, allowPositionals: true, tokens: true,
    options: {
      I: { type: 'string' }, O: { type: 'string' }, o: { type: 'string' }, i: { type: 'string', multiple: true },
      p: { type: 'string' }, S: { type: 'string' }, a: { type: 'string' }, R: { type: 'string' }, b: { type: 'string' },
      V: { type: 'string' }, '@': { type: 'boolean' }, A: { type: 'boolean' }, s: { type: 'boolean' }, H: { type: 'string' },
      f: { type: 'boolean' }, q: { type: 'boolean', multiple: true }, W: { type: 'string', multiple: true }, E: { type: 'string', multiple: true },
      d: { type: 'string' }, cpp: { type: 'boolean' }, 'no-cpp': { type: 'boolean' }, 'cpp-I': { type: 'string', multiple: true },
      D: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return void process.stdout.write(COMPILE_HELP), 0;
  if (positionals.length !== 1) throw new UsageError('compile takes one input file');
  const input = positionals[0]!;
  const inform = v.I ?? (/\.dtbo?$/.test(input) ? 'dtb' : 'dts');
  const outform = v.O ?? (v.o && /\.dts$/.test(v.o) ? 'dts' : inform === 'dts' ? 'dtb' : 'dts');
  if (!['dts', 'dtb'].includes(inform)) throw new UsageError(`Unknown input format "${inform}"`);
  if (!['dts', 'dtb'].includes(outform)) throw new UsageError(`Unknown output format "${outform}"`);
  const H = v.H as 'epapr' | 'legacy' | 'both' | undefined;
  if (H && !['epapr', 'legacy', 'both'].includes(H)) throw new UsageError(`Invalid argument "${H}" to -H option`);
  const bootCpuid = num(v.b, '-b');
  const checks = checkOptions(tokens);
  if (typeof checks === 'string') return process.stderr.write(checks), 1;
  const common = {
    ...(bootCpuid !== undefined ? { bootCpuid } : {}), ...(H ? { phandleFormat: H } : {}),
    symbols: !!v['@'], autoAliases: !!v.A, sort: !!v.s, force: !!v.f, quiet: v.q?.length ?? 0, outName: v.o ?? '-', nameChecks: true, checks,
    // the checks leave out what -q hides themselves; dtc prints the rest (a forced output's note, a label already in /__symbols__) even with -q
    onWarning: (m: string) => void process.stderr.write(`${m}\n`),
  };
  let dti: DtInfo;
  if (inform === 'dtb') {
    const blob = decodeFdt(await readInput(input, 'dtb'));
    try {
      dti = reprocessTree(blob, common);
    } catch (e) {
      if (!(e instanceof DtsError)) throw e;
      process.stderr.write(Buffer.from(e.stderr, 'latin1'));
      return 1;
    }
  } else {
    // dtc's messages name files as they were given (the input, then "DIR/NAME" for /include/ and /incbin/)
    let text = readTextSync(input, 'dts', 'latin1');
    const wantCpp = v.cpp || (!v['no-cpp'] && /^\s*#\s*(include|define|if|ifdef|ifndef)\b/m.test(text));
    const dirs = v.i ?? [];
    const preprocess = wantCpp ? await cpp() : undefined;
    if (preprocess)
      text = wrapSourceErrors(() => preprocess(input, { includeDirs: [...(v['cpp-I'] ?? []), ...dirs].map((d) => resolve(d)), defines: ['__DTS__', ...(v.D ?? [])] }));
    try {
      dti = parseDts({ name: input, text }, { ...common, ...fileAccessFor(dirs) });
    } catch (e) {
      // what dtc prints, as it prints it; the exit status stays ours (1, bad input) where dtc's is 2 (failed checks)
      if (!(e instanceof DtsError)) throw e;
      process.stderr.write(Buffer.from(e.stderr, 'latin1'));
      return 1;
    }
  }
  let out: Uint8Array;
  if (outform === 'dts') out = latin1(dtsSource(dti));
  else {
    // -b, else a blob's own boot CPU, else dtc's guess from the source
    const fdt = fdtOf(dti, bootCpuid !== undefined ? { bootCpuid } : {});
    const opts: EncodeOptions = {
      ...(v.V !== undefined ? { version: num(v.V, '-V')! } : {}), ...(v.R !== undefined ? { reserveSlots: num(v.R, '-R')! } : {}),
      ...(v.S !== undefined ? { minSize: num(v.S, '-S')! } : {}), ...(v.p !== undefined ? { pad: num(v.p, '-p')! } : {}),
      ...(v.a !== undefined ? { align: num(v.a, '-a')! } : {}), ...(!v.q && { onWarning: common.onWarning }),
    };
    out = encodeFdt(fdt, opts);
  }
  if (!v.o || v.o === '-') process.stdout.write(out);
  else await writeFileAtomic(v.o, out, { named: true });
  return 0;
}

async function decompile(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { o: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('decompile takes one input file');
  const text = formatDts(decodeFdt(await readInput(positionals[0]!, 'dtb')));
  if (!v.o || v.o === '-') process.stdout.write(latin1(text));
  else await writeFileAtomic(v.o, latin1(text), { named: true });
  return 0;
}

async function dump(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('dump takes one input file');
  // written as it is made, in 64 KiB pieces: a small blob can print hundreds of megabytes
  let piece = '';
  for (const line of dumpLines(await readInput(positionals[0]!, 'dtb'))) {
    piece += line;
    if (piece.length >= 65536) {
      if (!process.stdout.write(latin1(piece))) await once(process.stdout, 'drain');
      piece = '';
    }
  }
  process.stdout.write(latin1(piece));
  return 0;
}

/** fdtget/fdtput -t: [hh|h|l|b]? then i|u|x|s. */
function decodeType(t: string | undefined): { type: string; size: number } {
  if (t === undefined) return { type: '', size: -1 };
  const m = /^(hh|h|l|b)?([iuxs])$/.exec(t);
  if (!m) throw new UsageError(`Invalid type string '${t}'`);
  const q = m[1] ?? '';
  return { type: m[2]!, size: m[2] === 's' ? -1 : q === 'hh' || q === 'b' ? 1 : q === 'h' ? 2 : q === 'l' ? 4 : -1 };
}

function isPrintable(v: Uint8Array): boolean {
  if (!v.length || v[v.length - 1] !== 0) return false;
  let s = 0;
  while (s < v.length) {
    const ss = s;
    while (s < v.length && v[s] !== 0 && v[s]! >= 0x20 && v[s]! < 0x7f) s++;
    if (v[s] !== 0 || s === ss) return false;
    s++;
  }
  return true;
}

function showData(v: Uint8Array, type: string, size: number): string {
  if (!v.length) return '';
  if (type === 's' || (!type && isPrintable(v))) {
    if (v[v.length - 1] !== 0) throw Object.assign(new Error('Unterminated string'), { exitCode: 1 });
    return Buffer.from(v.buffer, v.byteOffset, v.length - 1).toString('latin1').split('\0').join(' ');
  }
  const sz = size === -1 ? (v.length % 4 === 0 ? 4 : 1) : size;
  if (v.length % sz) throw Object.assign(new Error('Property length must be a multiple of selected data size'), { exitCode: 1 });
  const out: string[] = [];
  for (let i = 0; i < v.length; i += sz) {
    const x = sz === 4 ? ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) : sz === 2 ? (v[i]! << 8) | v[i + 1]! : v[i]!;
    out.push(type === 'x' ? (x >>> 0).toString(16) : type === 'u' ? String(x >>> 0) : String(x | 0));
  }
  return out.join(' ');
}

async function get(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { t: { type: 'string' }, d: { type: 'string' }, p: { type: 'boolean' }, l: { type: 'boolean' } },
  });
  if (positionals.length < 2) throw new UsageError('get takes FILE NODE PROPERTY [NODE PROPERTY...]');
  const [file, ...args] = positionals as [string, ...string[]];
  const { type, size } = decodeType(v.t);
  const fdt = decodeFdt(await readInput(file, 'dtb'));
  const fail = (what: string): number => {
    if (v.d !== undefined) return void process.stdout.write(`${v.d}\n`), 0;
    process.stderr.write(`Error at '${what}': FDT_ERR_NOTFOUND\n`);
    return 1;
  };
  // fdtget: -l/-p take nodes; otherwise NODE PROPERTY pairs
  const step = v.l || v.p ? 1 : 2;
  if (step === 2 && args.length % 2) throw new UsageError('get takes NODE PROPERTY pairs');
  for (let i = 0; i < args.length; i += step) {
    const node = findNode(fdt.root, args[i]!);
    if (!node) return fail(args[i]!);
    if (v.l) process.stdout.write(latin1(node.children.map((c) => `${c.name}\n`).join('')));
    else if (v.p) process.stdout.write(latin1(node.props.map((p) => `${p.name}\n`).join('')));
    else {
      const p = getProp(node, args[i + 1]!);
      if (!p) return fail(args[i + 1]!);
      process.stdout.write(latin1(`${showData(p.value, type, size)}\n`));
    }
  }
  return 0;
}

function encodeValues(args: string[], type: string, size: number): Uint8Array {
  if (type === 's') return new Uint8Array(args.flatMap((a) => [...Buffer.from(a, 'latin1'), 0]));
  const sz = size === -1 ? 4 : size;
  const out = new Uint8Array(args.length * sz);
  args.forEach((a, i) => {
    const t = a.trim();
    const x = type === 'x' ? parseInt(t, 16) : type === 'i' ? Number(t.startsWith('0x') ? parseInt(t, 16) : /^0[0-7]/.test(t) ? parseInt(t, 8) : parseInt(t, 10)) : parseInt(t, 10);
    if (Number.isNaN(x)) throw Object.assign(new Error(`Couldn't parse value '${a}'`), { exitCode: 1 });
    for (let b = 0; b < sz; b++) out[i * sz + b] = Math.floor((x >>> 0) / 2 ** (8 * (sz - 1 - b))) & 0xff;
  });
  return out;
}

async function set(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { t: { type: 'string' }, c: { type: 'boolean' }, p: { type: 'boolean' }, d: { type: 'boolean' }, r: { type: 'boolean' } },
  });
  if (positionals.length < 2) throw new UsageError('set takes FILE NODE [PROPERTY VALUE...]');
  const [file, path, ...rest] = positionals as [string, string, ...string[]];
  const fdt = decodeFdt(await readInput(file, 'dtb'));
  const notFound = (what: string): never => { throw Object.assign(new Error(`Error at '${what}': FDT_ERR_NOTFOUND`), { exitCode: 1 }); };
  if (v.c || v.r) {
    for (const p of [path, ...rest]) {
      const parts = p.split('/').filter(Boolean);
      let node: FdtNode = fdt.root;
      for (let i = 0; i < parts.length; i++) {
        const found = node.children.find((c) => c.name === parts[i]);
        if (v.r && i === parts.length - 1) {
          if (!found) notFound(p);
          node.children.splice(node.children.indexOf(found!), 1);
        } else if (found) node = found;
        else if (v.c && (v.p || i === parts.length - 1)) {
          const n: FdtNode = { name: parts[i]!, props: [], children: [] };
          node.children.unshift(n); // libfdt places a new subnode first
          node = n;
        } else notFound(p);
      }
    }
  } else {
    const node = findNode(fdt.root, path) ?? notFound(path);
    if (v.d) {
      for (const name of rest) {
        const i = node.props.findIndex((p) => p.name === name);
        if (i < 0) notFound(name);
        node.props.splice(i, 1);
      }
    } else {
      const [name, ...vals] = rest;
      if (!name) throw new UsageError('set needs a property name');
      const { type, size } = decodeType(v.t);
      const value = encodeValues(vals, type, size);
      const p = getProp(node, name);
      if (p) p.value = value;
      else node.props.unshift({ name, value }); // libfdt adds a new property first
    }
  }
  await writeFileAtomic(file, encodeFdt(fdt), { named: true });
  return 0;
}

/** `fdt batch LIST --out-dir DIR [--cpp-I DIR]... [-i DIR]...`: compile many .dts as the kernel does (cpp + dtc -b 0), one process. */
async function batch(argv: string[]): Promise<number> {
  const { values: v, positionals, tokens } = parseArgs({
    args: argv, allowPositionals: true, tokens: true,
    options: {
      'out-dir': { type: 'string' }, 'cpp-I': { type: 'string', multiple: true }, i: { type: 'string', multiple: true },
      q: { type: 'boolean', multiple: true }, W: { type: 'string', multiple: true }, E: { type: 'string', multiple: true },
    },
  });
  if (positionals.length !== 1 || !v['out-dir']) throw new UsageError('batch takes LIST --out-dir DIR');
  const checks = checkOptions(tokens);
  if (typeof checks === 'string') return process.stderr.write(checks), 1;
  const list = readTextSync(positionals[0]!, 'dtb', 'utf8').split('\n').filter(Boolean);
  const cppDirs = (v['cpp-I'] ?? []).map((d) => resolve(d)), dirs = (v.i ?? []).map((d) => resolve(d));
  const { preprocess, TokenCache } = await import('../dtb/cpp.js');
  const cache = new TokenCache();
  // a few blobs being written while the next sources compile (each write is an open, a write, a
  // rename on the thread pool: awaited one by one, the main thread waited ~6% of a corpus run)
  const writing = new Set<Promise<void>>();
  let failed: { e: unknown } | undefined;
  try {
    for (const f of list) {
      const path = resolve(f);
      const text = wrapSourceErrors(() => preprocess(path, { includeDirs: cppDirs, defines: ['__DTS__'], cache }));
      const fdt = wrapSourceErrors(() =>
        compileDts({ name: path, text }, {
          bootCpuid: 0, ...fileAccessFor([dirname(path), ...dirs]), nameChecks: true, checks, quiet: v.q?.length ?? 0,
          onWarning: (m) => void process.stderr.write(`${m}\n`),
        }));
      const w = writeFileAtomic(resolve(v['out-dir'], basename(f).replace(/\.dts$/, '.dtb')), encodeFdt(fdt)).then(
        () => void writing.delete(w),
        (e: unknown) => void (failed ??= { e }),
      );
      writing.add(w);
      if (writing.size >= 8) await Promise.race(writing);
      if (failed) break;
    }
  } finally {
    // every write started ends (written, or its temporary file removed) before the run does
    await Promise.all(writing);
  }
  if (failed) throw failed.e;
  return 0;
}

/** `fdt overlay BASE OV... -o OUT` (also fdtoverlay's `-i BASE`): the blob fdtoverlay writes, or nothing on error. */
async function overlay(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { i: { type: 'string' }, o: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' } },
  });
  const input = v.i ?? v.input;
  const files = [...(input !== undefined ? [input] : []), ...positionals];
  if (files.length < 2) throw new UsageError('overlay takes BASE and at least one overlay');
  const [base, ...ovs] = files as [string, ...string[]];
  const { applyOverlays } = await import('../dtb/overlay.js');
  const out = applyOverlays(
    await readInput(base, 'dtb'),
    await Promise.all(ovs.map((f) => readInput(f, 'dtb'))),
    { names: ovs },
  );
  const dest = v.o ?? v.output;
  if (!dest || dest === '-') process.stdout.write(out);
  else await writeFileAtomic(dest, out, { named: true });
  return 0;
}

/** A command's own --help: its lines of HELP. */
function commandHelp(cmd: string): string | undefined {
  const lines = HELP.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`  ${cmd} `));
  if (at < 0) return undefined;
  let end = at + 1;
  while (end < lines.length && /^ {20,}\S/.test(lines[end]!)) end++;
  return `Usage: fdt ${lines.slice(at, end).map((l) => l.trim()).join('\n  ')}\n`;
}

runMain('fdt', async (argv) => {
  const [cmd, ...rest] = argv;
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (cmd !== undefined && cmd !== 'compile' && (options.includes('--help') || options.includes('-h'))) {
    const help = commandHelp(cmd);
    if (help) return void process.stdout.write(help), 0;
  }
  switch (cmd) {
    case 'compile': return compile(rest);
    case 'decompile': return decompile(rest);
    case 'dump': return dump(rest);
    case 'get': return get(rest);
    case 'set': return set(rest);
    case 'batch': return batch(rest);
    case 'overlay': return overlay(rest);
    case undefined: case '-h': case '--help': process.stdout.write(HELP); return cmd ? 0 : 2;
    default: throw new UsageError(`unknown command '${cmd}'`);
  }
});
