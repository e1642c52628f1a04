/**
 * `mksquashfs SOURCES... IMAGE [options]` end to end: scan, pseudo definitions, attribute
 * overrides (-all-root, -force-uid/gid, -root-mode, -all-time, SOURCE_DATE_EPOCH), write.
 */
import { readFile, stat } from 'node:fs/promises';
import { withOutputFile } from '../bytes/sink.js';
import { parseMksquashfsArgs, MksquashfsUsageError, type MksquashfsArgs } from './mksquashfs.js';
import { applyPseudo } from './pseudo.js';
import { scanSources, type SourceInode } from './tree.js';
import { writeSquashfs, type WriteResult } from './write.js';

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

/** Runs a mksquashfs command line (without the program name). */
export async function packFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv, onWarning: (m: string) => void): Promise<{ args: MksquashfsArgs; result: WriteResult }> {
  const a = parseMksquashfsArgs(argv, env);
  const exists = await stat(a.dest).then(() => true, () => false);
  if (exists && !a.noAppend) {
    const head = await readFile(a.dest).then((b) => b.subarray(0, 4).toString('latin1'), () => '');
    if (head === 'hsqs') throw new MksquashfsUsageError(`${a.dest} exists: appending to an image is not supported yet (squashfs part 2); pass -noappend to overwrite it`);
  }
  for (const f of a.excludeFiles) a.exclude.push(...(await readFile(f, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  if (a.sources.length === 0 && a.pseudo.length === 0) throw new MksquashfsUsageError('no sources given');
  const sourceTimes = await Promise.all(a.sources.map((s) => stat(s).then((st) => Math.floor(st.mtimeMs / 1000))));
  const rootTime = a.clampTime ?? a.mkfsTime ?? Math.max(0, ...sourceTimes);
  const root: SourceInode = a.sources.length
    ? await scanSources(a.sources, {
        keepAsDirectory: a.keepAsDirectory, exclude: a.exclude, noHardlinks: a.noHardlinks, xattrs: !a.write.noXattrs, onWarning,
        rootDefaults: { mode: 0o777, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: rootTime },
      })
    : { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: rootTime, entries: [] };
  for (const p of a.pseudo) applyPseudo(root, p, a.allTime ?? rootTime);
  let newest = 0;
  for (const n of inodes(root)) {
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
  const result = await withOutputFile(a.dest, (sink) => writeSquashfs(sink, root, { ...a.write, mkfsTime }));
  return { args: a, result };
}
