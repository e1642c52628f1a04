/**
 * Golden images made by mksquashfs 4.5.1 and gensquashfs 1.2.0 (commands in
 * test/fixtures/squashfs/SOURCES.md): our listing equals unsquashfs -lln's, contents match the
 * recorded hashes, and the uncompressed image re-encodes byte for byte from its decoded tree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bytesAccess } from '../../src/bytes/random.js';
import { memorySink } from '../../src/bytes/sink.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { writeSquashfs } from '../../src/squashfs/write.js';
import { imageTree } from '../../src/squashfs/image-tree.js';
import { longListing } from '../../src/squashfs/text.js';
import { FLAG } from '../../src/squashfs/layout.js';

const fixture = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/squashfs/${f}`, import.meta.url)));
const text = (f: string) => readFileSync(new URL(`../fixtures/squashfs/${f}`, import.meta.url), 'utf8');

describe('squashfs golden images', () => {
  for (const name of ['golden', 'golden-xz', 'golden-lzo', 'golden-ng']) {
    it(`${name}.sqfs: ls -l equals unsquashfs -lln, contents equal the source`, async () => {
      const fs = await openSquashfs(bytesAccess(fixture(`${name}.sqfs`), 'squashfs'));
      const lines: string[] = [];
      for await (const l of longListing(fs)) lines.push(l);
      assert.equal(lines.join('\n') + '\n', text(`${name}.ls`));
      for (const line of text('golden.sha256').trim().split('\n')) {
        const [sum, path] = line.split(/\s+/);
        assert.equal(createHash('sha256').update(await fs.readFile(path!.slice(1))).digest('hex'), sum, path);
      }
      assert.equal(await fs.readlink('bin/ls'), 'busybox');
      assert.deepEqual((await fs.xattrs('motd')).map((x) => [x.name, new TextDecoder().decode(x.value)]), [['user.note', 'golden']]);
    });
  }

  it('golden.sqfs (uncompressed) re-encodes byte for byte from its decoded tree', async () => {
    const bytes = fixture('golden.sqfs');
    const fs = await openSquashfs(bytesAccess(bytes, 'squashfs'));
    const sb = fs.superblock;
    const sink = memorySink();
    await writeSquashfs(sink, await imageTree(fs), {
      compressor: sb.compression, blockSize: sb.blockSize, mkfsTime: sb.mkfsTime, pad: false,
      noInodeCompression: !!(sb.flags & FLAG.UNCOMPRESSED_INODES), noDataCompression: !!(sb.flags & FLAG.UNCOMPRESSED_DATA),
      noFragmentCompression: !!(sb.flags & FLAG.UNCOMPRESSED_FRAGMENTS), noXattrCompression: !!(sb.flags & FLAG.UNCOMPRESSED_XATTRS),
      noExports: sb.lookupTableStart === undefined, noDuplicates: !(sb.flags & FLAG.DUPLICATES),
    });
    const out = sink.bytes();
    const at = out.findIndex((v, i) => v !== bytes[i]);
    assert.equal(out.length, bytes.length);
    assert.equal(at, -1, `first difference at 0x${at.toString(16)}`);
  });

  it('golden-lzo.sqfs is read through the raw LZO1X decoder', async () => {
    const fs = await openSquashfs(bytesAccess(fixture('golden-lzo.sqfs'), 'squashfs'));
    assert.equal(fs.superblock.compression, 'lzo');
    assert.equal(new TextDecoder().decode(await fs.readFile('etc/passwd')), 'root:x:0:0:root:/root:/bin/sh\n');
  });
});
