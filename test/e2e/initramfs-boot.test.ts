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
import { stat } from 'node:fs/promises';
import { compressStream, encodeCpio, S_IFCHR, S_IFDIR, walkTree, writeCpio, type CpioItem, type InitramfsCompression } from '../../src/cpio/index.js';
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
    const root = await busyboxTree(join(tmp, 'root'), g.busybox, initScript('IMGKIT-INITRAMFS-OK $(cat /proc/cmdline | busybox wc -c) $(busybox ls /early 2>/dev/null)'));
    items = [...(await walkTree(root, { mtime: 1 })), console_];
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  async function boot(name: string, method: InitramfsCompression, format: 'newc' | 'crc' = 'newc', early?: Uint8Array): Promise<void> {
    const img = join(tmp, `initrd-${name}`);
    await withOutputFile(img, async (sink) => {
      if (early) await sink.writev([early]);
      await pipeInto(sink, compressStream(writeCpio(items, { format }), method));
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
  }

  const methods: InitramfsCompression[] = ['none', 'gzip', 'xz', 'lzma', 'zstd', 'lz4', 'bzip2'];
  for (const m of methods)
    it(`${m}`, async (t) => {
      if (m === 'bzip2' && !(await getCodec('bzip2')).encode) return t.skip('no bzip2 encoder in src/codec yet');
      await boot(m, m);
    });

  it('crc (070702): the kernel verifies the byte sums', async () => boot('crc', 'gzip', 'crc'));

  it('two segments: uncompressed early cpio, then a zstd main archive', async () => {
    const early = encodeCpio([
      { name: 'early', mode: S_IFDIR | 0o755 },
      { name: 'early/microcode.bin', mode: 0o100644, data: new Uint8Array(100).fill(0xaa) },
    ]);
    await boot('early', 'zstd', 'newc', early);
  });
});
