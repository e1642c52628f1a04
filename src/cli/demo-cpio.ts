/**
 * The initramfs part of `npm run demo`: builds sample images from samples/cpio/ (a small root
 * folder and a gen_init_cpio list) and returns what was built with a listing of each.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeInto, withOutputFile } from '../bytes/sink.js';
import { compressStream, encodeCpio, longLine, parseSpec, walkInitramfs, walkTree, writeCpio, S_IFDIR, type CpioItem, type InitramfsCompression } from '../cpio/index.js';

/** Fixed times keep the samples byte-for-byte reproducible (git does not keep mtimes). */
const MTIME = 1;

export async function buildSamples(out: string, samples: string): Promise<{ path: string; what: string; listing: string }[]> {
  const dir = join(samples, 'cpio');
  const root: CpioItem[] = [
    ...(await walkTree(join(dir, 'rootfs'), { mtime: MTIME })),
    ...(await parseSpec(await readFile(join(dir, 'devices.list'), 'utf8'), { mtime: MTIME })),
  ];
  const early = encodeCpio([
    { name: 'kernel', mode: S_IFDIR | 0o755, mtime: MTIME },
    { name: 'kernel/x86', mode: S_IFDIR | 0o755, mtime: MTIME },
    { name: 'kernel/x86/microcode', mode: S_IFDIR | 0o755, mtime: MTIME },
    { name: 'kernel/x86/microcode/GenuineIntel.bin', mode: 0o100644, mtime: MTIME, data: new Uint8Array(64).fill(0x5a) },
  ], { dataAlign: 16 });
  await mkdir(out, { recursive: true });
  const images: [string, string, InitramfsCompression, Uint8Array | undefined][] = [
    ['initramfs.cpio.gz', 'initramfs (newc) from samples/cpio/rootfs plus the device nodes of devices.list, gzip -9 (parallel, one member)', 'gzip', undefined],
    ['initrd-early.img', 'two segments: an uncompressed early cpio (microcode file, 16-byte aligned data), then the root in zstd -10', 'zstd', early],
  ];
  const built: { path: string; what: string; listing: string }[] = [];
  for (const [name, what, method, prepend] of images) {
    const path = join(out, name);
    await withOutputFile(path, async (sink) => {
      if (prepend) await sink.writev([prepend]);
      await pipeInto(sink, compressStream(writeCpio(root), method));
    });
    const segments = await walkInitramfs(new Uint8Array(await readFile(path)));
    const lines: string[] = [];
    for (const s of segments) {
      lines.push(`segment at 0x${s.offset.toString(16)}: ${s.compression}, ${s.size} bytes${s.compression === 'none' ? '' : ` (${s.rawSize} decompressed)`}`);
      for (const r of s.records) lines.push(`  ${longLine(r, { numeric: true, now: MTIME })}`);
    }
    built.push({ path, what, listing: lines.join('\n') });
  }
  return built;
}
