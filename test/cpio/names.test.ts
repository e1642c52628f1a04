/** Names that are not UTF-8: kept byte for byte, as the kernel and GNU cpio keep them (never merged into one U+FFFD name). */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { decodeCpio, decodeName, encodeCpio, encodeName, extractRecords, findFile, S_IFIFO } from '../../src/cpio/index.js';
import { requireTools, skipWithout, tempDir } from '../helpers.js';

const te = (t: string) => new TextEncoder().encode(t);
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
/** Two names that differ only in a byte that is not UTF-8: "caf\xe9" (Latin-1 é) and "caf\xe8" (è), each with its own content. */
const cafe = () => encodeCpio([
  { name: decodeName(bytes('caf', [0xe9])), mode: 0o100644, data: te('first\n') },
  { name: decodeName(bytes('caf', [0xe8])), mode: 0o100644, data: te('second\n') },
]);

let tmp = '';
before(() => (tmp = tempDir('imgkit-cpio-names-')));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('cpio name bytes', () => {
  it('encodeName(decodeName(b)) is b for any bytes; decodeName is UTF-8 where the bytes are UTF-8', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      assert.deepEqual(encodeName(decodeName(b)), b);
    }), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => {
      assert.equal(decodeName(te(s)), s);
      assert.deepEqual(encodeName(s), te(s));
    }));
    assert.equal(decodeName(bytes('caf', [0xe9])), 'caf\udce9');
    assert.equal(decodeName(bytes([0xf0, 0x9f, 0x98, 0x80], [0xff])), '\u{1f600}\udcff', 'a character then an escape');
    assert.equal(decodeName(bytes([0xed, 0xa0, 0x80])), '\udced\udca0\udc80', 'an encoded surrogate is not UTF-8');
  });

  it('distinct names stay distinct strings, and encodeCpio writes the stored bytes back', () => {
    const img = cafe();
    const { records } = decodeCpio(img);
    assert.deepEqual(records.map((r) => r.entry.name), ['caf\udce9', 'caf\udce8']);
    assert.deepEqual(encodeCpio(records.map((r) => ({ name: r.entry.name, mode: r.entry.mode, data: r.data, ino: r.entry.ino }))), img);
    assert.equal(new TextDecoder().decode(findFile(records, 'caf\udce9')!.data), 'first\n');
    assert.equal(new TextDecoder().decode(findFile(records, 'caf\udce8')!.data), 'second\n');
  });

  it('extraction makes one file per name, under the stored bytes; symlink targets and fifos keep theirs too', async () => {
    const out = join(tmp, 'x-cafe');
    await extractRecords(decodeCpio(cafe()).records, out);
    const made = readdirSync(Buffer.from(out), { encoding: 'buffer' }).map((n) => [...n]).sort();
    assert.deepEqual(made, [[...bytes('caf', [0xe8])], [...bytes('caf', [0xe9])]]);
    assert.equal(readFileSync(Buffer.concat([Buffer.from(`${out}/`), bytes('caf', [0xe9])]), 'utf8'), 'first\n');
    assert.equal(readFileSync(Buffer.concat([Buffer.from(`${out}/`), bytes('caf', [0xe8])]), 'utf8'), 'second\n');

    const dir = decodeName(bytes('d', [0xff]));
    const more = encodeCpio([
      { name: dir, mode: 0o40755 },
      { name: `${dir}/f`, mode: 0o100644, data: te('in\n') },
      { name: 'link', mode: 0o120777, data: bytes('d', [0xff], '/f') },
      { name: decodeName(bytes('p', [0xfe])), mode: S_IFIFO | 0o644 },
    ]);
    const out2 = join(tmp, 'x-more');
    await extractRecords(decodeCpio(more).records, out2);
    const host = (...p: (string | number[])[]) => Buffer.concat([Buffer.from(`${out2}/`), bytes(...p)]);
    assert.equal(readFileSync(host('d', [0xff], '/f'), 'utf8'), 'in\n');
    assert.deepEqual([...readlinkSync(host('link'), { encoding: 'buffer' })], [...bytes('d', [0xff], '/f')]);
    assert.equal(readFileSync(host('link'), 'utf8'), 'in\n');
    assert.ok(lstatSync(host('p', [0xfe])).isFIFO());
    assert.deepEqual(readdirSync(out2).filter((n) => n.startsWith('.imgkit')), [], 'no staging folder is left');
  });
});

describe('cpio name bytes against GNU cpio', { skip: skipWithout('cpio') }, () => {
  before(() => requireTools('cpio'));

  it('cpio -t lists the names we decode, byte for byte, and cpio -idm makes the tree we make', async () => {
    const img = cafe();
    const t = spawnSync('cpio', ['-t', '--quiet'], { input: img });
    assert.equal(t.status, 0, t.stderr.toString());
    const ours = Buffer.concat(decodeCpio(img).records.map((r) => Buffer.concat([encodeName(r.entry.name), Buffer.from('\n')])));
    assert.deepEqual([...t.stdout], [...ours]);

    const gnu = join(tmp, 'gnu-cafe');
    const mine = join(tmp, 'ours-cafe');
    rmSync(gnu, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', gnu]);
    assert.equal(spawnSync('cpio', ['-idm', '--quiet'], { input: img, cwd: gnu }).status, 0);
    await extractRecords(decodeCpio(img).records, mine);
    const tree = (d: string) => readdirSync(Buffer.from(d), { encoding: 'buffer' }).map((n) => [n.toString('hex'), readFileSync(Buffer.concat([Buffer.from(`${d}/`), n]), 'utf8')]).sort();
    assert.deepEqual(tree(mine), tree(gnu));
  });

  it('initramfs ls prints what cpio -t prints, bytes outside UTF-8 included', () => {
    const file = join(tmp, 'cafe.cpio');
    spawnSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: cafe() });
    const ours = spawnSync(new URL('../../bin/initramfs', import.meta.url).pathname, ['ls', file]);
    assert.equal(ours.status, 0, ours.stderr.toString());
    assert.deepEqual([...ours.stdout], [...spawnSync('cpio', ['-t', '--quiet'], { input: cafe() }).stdout]);
  });
});
