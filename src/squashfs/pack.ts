/**
 * `mksquashfs SOURCES... IMAGE [options]` end to end: scan, pseudo definitions, attribute
 * overrides (-all-root, -force-uid/gid, -root-mode, -all-time, SOURCE_DATE_EPOCH), write.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { withOutputFile } from '../bytes/sink.js';
import { parseMksquashfsArgs, MksquashfsUsageError, type MksquashfsArgs } from './mksquashfs.js';
import { lstatSync } from 'node:fs';
import { applyPseudo, parsePseudoFile, PseudoError } from './pseudo.js';
import { readSortFile, wildcardExcluder } from './select.js';
import { scanSources, type SourceInode } from './tree.js';
import { writeSquashfs, type WriteOptions, type WriteResult } from './write.js';
import { fileAccess, rangeChunks, type RandomAccess } from '../bytes/random.js';
import { openSquashfs, type Squashfs } from './read.js';
import { imageTree } from './image-tree.js';
import { FLAG } from './layout.js';
import type { FragmentEntry } from './fragment.js';

function* inodes(root: SourceInode): Generator<SourceInode> {
  const seen = new Set<SourceInode>();
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    yield n;
    for (const e of n.entries ?? []) stack.push(e.inode);
  }
}

/** What packFromArgs reports while it works. */
export interface PackHooks {
  /** Files and bytes to store, known once the sources are scanned. */
  onStart?: (files: number, bytes: number) => void;
  onProgress?: (files: number, bytes: number) => void;
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** Runs a mksquashfs command line (without the program name). */
export async function packFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv, onWarning: (m: string) => void, hooks: PackHooks = {}): Promise<{ args: MksquashfsArgs; result: WriteResult }> {
  const a = parseMksquashfsArgs(argv, env);
  const processors = a.processors ?? availableParallelism();
  // node:zlib runs on libuv's pool (4 threads unless told otherwise before its first use)
  if (processors > 4 && process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(Math.min(processors, 1024));
  const exists = await stat(a.dest).then(() => true, () => false);
  let old: Appending | undefined;
  if (exists && !a.noAppend) {
    const head = await open(a.dest, 'r').then(async (fh) => {
      try {
        const b = Buffer.alloc(4);
        await fh.read(b, 0, 4, 0);
        return b.toString('latin1');
      } finally {
        await fh.close();
      }
    }, () => '');
    if (head === 'hsqs') old = await openForAppend(a);
    else if (exists) throw new MksquashfsUsageError(`${a.dest} exists and is not a squashfs image: pass -noappend to overwrite it`);
  }
  if (a.rootBecomes !== undefined && !old) throw new MksquashfsUsageError('-root-becomes needs an existing image to append to');
  for (const f of a.excludeFiles) a.exclude.push(...(await readFile(f, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  if (a.sources.length === 0 && a.pseudo.length === 0) throw new MksquashfsUsageError('no sources given');
  const sourceTimes = await Promise.all(a.sources.map((s) => stat(s).then((st) => Math.floor(st.mtimeMs / 1000))));
  const rootTime = a.clampTime ?? a.mkfsTime ?? Math.max(0, ...sourceTimes);
  let root: SourceInode = a.sources.length
    ? await scanSources(a.sources, {
        keepAsDirectory: a.keepAsDirectory, exclude: a.wildcards ? [] : a.exclude, noHardlinks: a.noHardlinks, xattrs: !a.write.noXattrs, onWarning,
        ...(a.wildcards && { skip: wildcardExcluder(a.exclude) }),
        rootDefaults: { mode: 0o777, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: rootTime },
      })
    : { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: rootTime, entries: [] };
  // appended runs only touch what they add: overrides below skip the old image's inodes
  const oldInodes = new Set<SourceInode>();
  if (old) {
    for (const n of inodes(old.root)) oldInodes.add(n);
    root = mergeForAppend(old.root, root, a);
    oldInodes.delete(old.root);
  }
  const host = {
    onWarning,
    scan: (path: string) => {
      // a host file as if it were a source entry ("l" definitions)
      const r = scanSourcesSync(path);
      if (!r) throw new PseudoError(`pseudo definition: cannot read host file ${path}`);
      return r;
    },
  };
  const hostFiles = new Map<string, SourceInode>();
  const scanSourcesSync = (path: string) => hostFiles.get(path);
  for (const p of a.pseudo) {
    const defs = typeof p === 'string' ? [p] : parsePseudoFile(p.file === '-' ? await readStdin() : await readFile(p.file, 'utf8'));
    for (const d of defs) {
      const m = /^\S+\s+l\s+(.*)$/.exec(d);
      if (m && !hostFiles.has(m[1]!.trim())) {
        const top = await scanSources([m[1]!.trim()], { keepAsDirectory: true, xattrs: !a.write.noXattrs, noHardlinks: true, onWarning });
        if (top.entries?.[0]) hostFiles.set(m[1]!.trim(), top.entries[0].inode);
      }
      applyPseudo(root, d, a.allTime ?? rootTime, host);
    }
  }
  let newest = 0;
  for (const n of inodes(root)) {
    if (oldInodes.has(n)) {
      newest = Math.max(newest, n.mtime);
      continue;
    }
    if (a.allRoot) n.uid = n.gid = 0;
    if (a.forceUid !== undefined) n.uid = a.forceUid;
    if (a.forceGid !== undefined) n.gid = a.forceGid;
    if (a.allTime !== undefined) n.mtime = a.allTime;
    else if (a.clampTime !== undefined && n.mtime > a.clampTime) n.mtime = a.clampTime;
    if (n.mtime < 0) n.mtime = 0;
    newest = Math.max(newest, n.mtime);
  }
  if (a.rootMode !== undefined) root.mode = a.rootMode;
  // mksquashfs stamps the current time; a deterministic default is the newest inode time (4.7's "-mkfs-time inode")
  const mkfsTime = a.mkfsTime ?? newest;
  let priority: ((n: SourceInode) => number) | undefined;
  if (a.sortFile !== undefined) {
    const byIno = readSortFile(a.sortFile, a.sources, onWarning);
    priority = (n) => {
      if (!n.source) return 0;
      const st = lstatSync(n.source, { bigint: true, throwIfNoEntry: false });
      return (st && byIno.get(`${st.dev}:${st.ino}`)) ?? 0;
    };
  }
  let files = 0, bytes = 0;
  for (const n of inodes(root)) if (n.kind === 'file') (files++, (bytes += n.size ?? 0));
  hooks.onStart?.(files, bytes);
  try {
    const result = await withOutputFile(a.dest, async (sink) => {
      if (old) for await (const c of rangeChunks(old.ra, 0, old.dataEnd, 4 << 20)) await sink.writev([c.slice()]);
      return writeSquashfs(sink, root, {
        ...a.write, mkfsTime, processors, reuseWritten: true,
        ...(old && { ...old.write, appendTo: { dataEnd: old.dataEnd, fragments: old.fragments } }),
        ...(priority && { priority }), ...(hooks.onProgress && { onProgress: hooks.onProgress }),
      });
    });
    return { args: a, result };
  } finally {
    await old?.fs.close();
  }
}

interface Appending {
  fs: Squashfs;
  ra: RandomAccess;
  root: SourceInode;
  dataEnd: number;
  fragments: FragmentEntry[];
  /** The old image's settings: appending ignores -comp, -b, -noI… and the fragment options, as mksquashfs does. */
  write: Partial<WriteOptions>;
}

async function openForAppend(a: MksquashfsArgs): Promise<Appending> {
  const ra = await fileAccess(a.dest, 'squashfs');
  const fs = await openSquashfs(ra).catch(async (e: unknown) => {
    await ra.close?.();
    throw e;
  });
  const sb = fs.superblock;
  const fragments: FragmentEntry[] = [];
  for (let i = 0; i < sb.fragments; i++) fragments.push(await fs.fragmentEntry(i));
  const f = sb.flags;
  return {
    fs, ra, root: await imageTree(fs, { keepData: true }), dataEnd: sb.inodeTableStart, fragments,
    write: {
      compressor: sb.compression, compressorOptions: fs.compressorOptions ?? {}, blockSize: sb.blockSize,
      noInodeCompression: (f & FLAG.UNCOMPRESSED_INODES) !== 0, noDataCompression: (f & FLAG.UNCOMPRESSED_DATA) !== 0,
      noFragmentCompression: (f & FLAG.UNCOMPRESSED_FRAGMENTS) !== 0, noXattrCompression: (f & FLAG.UNCOMPRESSED_XATTRS) !== 0,
      noFragments: (f & FLAG.NO_FRAGMENTS) !== 0, alwaysUseFragments: (f & FLAG.ALWAYS_FRAGMENTS) !== 0,
      noExports: (f & FLAG.EXPORTABLE) === 0,
    },
  };
}

/**
 * mksquashfs's append: the new sources join the old root's entries (a clashing new name gets `_1`,
 * `_2`…), or with -root-becomes NAME the old root becomes NAME in a new root. Pseudo definitions
 * apply after.
 */
function mergeForAppend(oldRoot: SourceInode, added: SourceInode, a: MksquashfsArgs): SourceInode {
  // the root takes the new sources' root attributes (one source directory: its own; several: the
  // synthesized 0777 root), as mksquashfs 4.5 does; the old root keeps its own under -root-becomes
  if (a.rootBecomes !== undefined && (!a.rootBecomes || a.rootBecomes.includes('/'))) throw new MksquashfsUsageError(`-root-becomes: "${a.rootBecomes}" is not a file name`);
  const root: SourceInode = { ...added, entries: a.rootBecomes !== undefined ? [{ name: a.rootBecomes, inode: oldRoot }] : [...oldRoot.entries!] };
  const used = new Set(root.entries!.map((e) => e.name));
  for (const e of added.entries ?? []) {
    let name = e.name;
    for (let i = 1; used.has(name); i++) name = `${e.name}_${i}`;
    used.add(name);
    root.entries!.push({ name, inode: e.inode });
  }
  return root;
}
