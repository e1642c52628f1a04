/** Library inputs: a @zenfs/core file system through the same walker, and entries from an async iterable. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collect } from '../../src/bytes/source.js';
import { decodeCpio, encodeCpio, walkTree, writeCpio, S_IFCHR, S_IFDIR, type CpioItem, type FsLike } from '../../src/cpio/index.js';

describe('cpio sources', () => {
  it('walkTree over a @zenfs/core in-memory file system', async () => {
    const { configure, fs, InMemory } = await import('@zenfs/core');
    await configure({ mounts: { '/': InMemory } });
    fs.mkdirSync('/root/etc', { recursive: true });
    fs.writeFileSync('/root/etc/hostname', 'zen\n');
    fs.writeFileSync('/root/init', '#!/bin/sh\n');
    fs.symlinkSync('etc/hostname', '/root/name');
    const items = await walkTree('/root', { fs: fs.promises as unknown as FsLike, mtime: 1 });
    const { records } = decodeCpio(await collect(writeCpio(items)));
    assert.deepEqual(records.map((r) => r.entry.name), ['.', 'etc', 'etc/hostname', 'init', 'name']);
    assert.equal(new TextDecoder().decode(records[2]!.data), 'zen\n');
    assert.equal(new TextDecoder().decode(records[4]!.data), 'etc/hostname');
    assert.equal(records[4]!.entry.mode & 0o170000, 0o120000);
    assert.ok(records.every((r) => r.entry.mtime === 1 && r.entry.uid === 0));
  });

  it('writeCpio takes entries from an async iterable (generated on the fly)', async () => {
    async function* gen(): AsyncGenerator<CpioItem> {
      yield { name: 'dev', mode: S_IFDIR | 0o755 };
      yield { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 };
      for (let i = 0; i < 3; i++) yield { name: `f${i}`, mode: 0o100644, data: new Uint8Array(i * 100).fill(i) };
    }
    const bytes = await collect(writeCpio(gen()));
    const sync = encodeCpio([
      { name: 'dev', mode: S_IFDIR | 0o755 },
      { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
      ...[0, 1, 2].map((i) => ({ name: `f${i}`, mode: 0o100644, data: new Uint8Array(i * 100).fill(i) })),
    ]);
    assert.deepEqual(bytes, sync);
  });

  it('a streamed file that changes size is an error, not a silently wrong archive', async () => {
    const item: CpioItem = { name: 'f', mode: 0o100644, data: { size: 10, chunks: async function* () { yield new Uint8Array(5); } } };
    await assert.rejects(collect(writeCpio([item])), /changed while it was archived/);
  });
});
