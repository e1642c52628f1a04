/**
 * Boots initramfs images built by our writer with Debian's armmp kernel under QEMU + U-Boot, in
 * every compression the kernel accepts (CONFIG_RD_*=y in armmp), plus a crc archive and a
 * two-segment image (uncompressed early cpio + compressed main). /init prints a marker and
 * powers off. Skips when QEMU or the guest files are missing; under CI (process.env.CI) fails.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { getCodec } from '../../src/codec/registry.js';
import { pipeInto, withOutputFile } from '../../src/bytes/sink.js';
import { readFile, stat } from 'node:fs/promises';
import { compressStream, encodeCpio, extractSegments, walkInitramfs, S_IFCHR, S_IFDIR, walkTree, writeCpio, type CompressOptions, type CpioItem, type InitramfsCompression } from '../../src/cpio/index.js';
import { tempDir } from '../helpers.js';
import { bootArm, bootzCommands, busyboxTree, ensureGuest, initScript, INITRD_ADDR, KERNEL_ADDR, type Guest } from './qemu.js';

const guest = ensureGuest();
const skip = typeof guest === 'string' && !process.env.CI ? guest : false;

/** /dev/console must exist before init runs (the kernel opens it for init's stdio); no root needed here. */
const console_: CpioItem = { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1, mtime: 1 };

describe('initramfs boots under QEMU (armmp kernel, U-Boot bootz)', { skip, timeout: 300_000 }, () => {
  let tmp = '';
  let g: Guest;
  let items: CpioItem[] = [];
  before(async () => {
    if (typeof guest === 'string') throw new Error(`${guest} (CI is set: the boot test must run, not skip)`);
    g = guest;
    tmp = tempDir('imgkit-boot-');
    const root = await busyboxTree(join(tmp, 'root'), g.busybox, initScript('IMGKIT-INITRAMFS-OK $(cat /proc/cmdline | busybox wc -c) $(busybox ls /early 2>/dev/null) $(busybox stat -c shared=%a,%u,%Y /shared 2>/dev/null)'));
    items = [...(await walkTree(root, { mtime: 1 })), console_];
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  /** Boots the image; returns the boot log. */
  interface BootOptions {
    format?: 'newc' | 'crc';
    /** An uncompressed archive put first. */
    early?: Uint8Array;
    /** Entries added to the main archive. */
    extra?: CpioItem[];
    compress?: CompressOptions;
  }
  async function boot(name: string, method: InitramfsCompression, o: BootOptions = {}): Promise<string> {
    const { format = 'newc', early, extra = [] } = o;
    const img = join(tmp, `initrd-${name}`);
    await withOutputFile(img, async (sink) => {
      if (early) await sink.writev([early]);
      await pipeInto(sink, compressStream(writeCpio([...items, ...extra], { format }), method, o.compress));
    });
    const size = (await stat(img)).size;
    const r = await bootArm({
      loads: [{ file: g.kernel, addr: KERNEL_ADDR }, { file: img, addr: INITRD_ADDR }],
      commands: bootzCommands(size),
      marker: 'IMGKIT-INITRAMFS-OK',
      timeout: 120_000,
    });
    assert.ok(r.ok, `${name}: ${r.reason ?? ''}\n${r.log.slice(-3000)}`);
    if (early) assert.match(r.log, /IMGKIT-INITRAMFS-OK \d+ microcode\.bin/, 'the early segment was unpacked too');
    return r.log;
  }

  const methods: InitramfsCompression[] = ['none', 'gzip', 'xz', 'lzma', 'zstd', 'lz4', 'bzip2'];
  for (const m of methods)
    it(`${m}`, async (t) => {
      if (m === 'bzip2' && !(await getCodec('bzip2')).encode) return t.skip('no bzip2 encoder in src/codec yet');
      await boot(m, m);
    });

  it('lzma from imgkit\'s own encoder (size unknown, end marker, as the initramfs path writes it)', async () => void (await boot('lzma-imgkit', 'lzma', { compress: { encoder: 'imgkit' } })));

  it('crc (070702): the kernel verifies the byte sums', async () => void (await boot('crc', 'gzip', { format: 'crc' })));

  it('two segments: uncompressed early cpio, then a zstd main archive', async () => {
    const early = encodeCpio([
      { name: 'shared', mode: S_IFDIR | 0o750, uid: 3, mtime: 1_000_000 },
      { name: 'early', mode: S_IFDIR | 0o755 },
      { name: 'early/microcode.bin', mode: 0o100644, data: new Uint8Array(100).fill(0xaa) },
    ]);
    const log = await boot('early', 'zstd', { early, extra: [{ name: 'shared', mode: S_IFDIR | 0o705, uid: 7, mtime: 2_000_000 }] });
    // a folder in both segments: the kernel leaves it with the later entry's mode and owner and the
    // first entry's time; our extraction of the same image leaves it the same
    const seen = /shared=(\d+),(\d+),(\d+)/.exec(log);
    assert.ok(seen, `no stat of /shared in the log:\n${log.slice(-2000)}`);
    assert.deepEqual(seen.slice(1), ['705', '7', '1000000']);
    const out = join(tmp, 'x-early');
    await extractSegments(await walkInitramfs(new Uint8Array(await readFile(join(tmp, 'initrd-early')))), out, { sameOwner: process.getuid?.() === 0 });
    const st = await stat(join(out, 'shared'));
    assert.equal((st.mode & 0o7777).toString(8), seen[1]);
    assert.equal(Math.floor(st.mtimeMs / 1000), 1_000_000);
    if (process.getuid?.() === 0) assert.equal(st.uid, 7);
  });
});
