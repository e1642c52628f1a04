/**
 * `squashfs unpack-pf IMG [FILE]` writes the image as a mksquashfs pseudo file, and `-pf` reads it
 * back (R definitions with a data section): the round trip image → unpack-pf → `squashfs pack -
 * NEW -pf FILE` gives the same bytes with -noI -noD -noF -noX, and mksquashfs 4.5.1 consuming our
 * pseudo file builds the same image too. The text equals `unsquashfs -pf`'s except for device
 * numbers, which unsquashfs 4.5 prints with the 8-bit decoding (`rdev >> 8`, `rdev & 0xff`).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { makeFeatureTree, TIME } from './fixture.js';
import { applyPseudo, readPseudoFile, PseudoError } from '../../src/squashfs/pseudo.js';
import type { SourceInode } from '../../src/squashfs/tree.js';

const bin = join(root, 'bin/squashfs');
const RAW = ['-noI', '-noD', '-noF', '-noX'];
const OPTS = ['-noappend', '-quiet', '-no-progress', '-b', '4K', '-mkfs-time', String(TIME)];
let tmp = '';

function sq(args: string[]) {
  const r = spawnSync(bin, args, { cwd: tmp, encoding: 'buffer', maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}
const file = (f: string) => readFileSync(join(tmp, f));

before(() => {
  ensureBuilt('dist/cli/squashfs.js');
  tmp = tempDir('imgkit-sqfs-pfdump-');
  makeFeatureTree(join(tmp, 'tree'), 4096);
  // devices beyond 8 bits and names that need escaping, without root
  writeFileSync(join(tmp, 'dev.pf'), '/ D 1 755 0 0\ndev D 2 755 0 0\ndev/loop C 3 600 0 6 300 70000\ndev/tty C 4 620 0 5 4 1\n"a b\\\\c\'d" S 5 777 0 0 target with  spaces  \n');
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('squashfs unpack-pf round trips', () => {
  it('image → unpack-pf → pack -pf gives the same bytes (hard links as L, sparse files, every inode type); stdout and FILE agree', () => {
    sq(['pack', 'tree', 'orig.sqfs', ...OPTS, ...RAW, '-no-xattrs']);
    sq(['unpack-pf', 'orig.sqfs', 'orig.pf']);
    assert.ok(sq(['unpack-pf', 'orig.sqfs']).equals(file('orig.pf')));
    const text = file('orig.pf').toString('latin1');
    assert.match(text, /^\/ D \d+ 755 /);
    assert.match(text, /^name\\ with\\ spaces R /m);
    assert.match(text, /^quote\\"name R /m);
    assert.match(text, /^\S+ L \S+$/m);
    sq(['pack', '-', 'again.sqfs', ...OPTS, ...RAW, '-no-xattrs', '-pf', 'orig.pf']);
    assert.ok(file('again.sqfs').equals(file('orig.sqfs')));
  });

  it('an image whose file data fails to decode: exit 1, and no FILE left behind (not even a partial one)', () => {
    sq(['pack', 'tree', 'c.sqfs', ...OPTS, '-no-xattrs']);
    const img = file('c.sqfs');
    // every data and fragment block: between the 96-byte superblock and the inode table (superblock offset 64)
    const inodeTable = Number(img.readBigUInt64LE(64));
    for (let i = 96; i < inodeTable; i += 7) img[i]! ^= 0x5a;
    writeFileSync(join(tmp, 'c-bad.sqfs'), img);
    const r = spawnSync(bin, ['unpack-pf', 'c-bad.sqfs', 'bad.pf'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /squashfs: /);
    assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('bad.pf')), []);
  });

  it('--xattrs adds "name x key=value" lines (0t for binary values), and the rebuilt image has the same bytes', () => {
    sq(['pack', 'tree', 'x.sqfs', ...OPTS, ...RAW]);
    sq(['unpack-pf', '--xattrs', 'x.sqfs', 'x.pf']);
    const text = file('x.pf').toString('latin1');
    if (!/ x user\.comment=hello$/m.test(text)) return; // setfattr unavailable: no xattrs to carry
    sq(['pack', '-', 'x2.sqfs', ...OPTS, ...RAW, '-pf', 'x.pf']);
    assert.ok(file('x2.sqfs').equals(file('x.sqfs')));
    assert.ok(sq(['unpack-pf', '--xattrs', 'x2.sqfs']).equals(file('x.pf')));
  });

  it('devices keep their real numbers; names are escaped; symlink targets keep their spaces', () => {
    sq(['pack', '-', 'dev.sqfs', ...OPTS, '-pf', 'dev.pf']);
    const text = sq(['unpack-pf', 'dev.sqfs']).toString();
    assert.match(text, /^dev\/loop C 3 600 0 6 300 70000$/m);
    assert.match(text, /^a\\ b\\\\c\\'d S 5 777 0 0 target with {2}spaces {2}$/m);
    writeFileSync(join(tmp, 'dev-o.pf'), text);
    sq(['pack', '-', 'dev2.sqfs', ...OPTS, '-pf', 'dev-o.pf']);
    assert.ok(file('dev2.sqfs').equals(file('dev.sqfs')));
  });

  it('a name that starts with "#" is escaped, not read back as a comment (unsquashfs 4.5.1 -pf loses it); mksquashfs rebuilds the same image', { skip: skipWithout('mksquashfs') }, () => {
    mkdirSync(join(tmp, 'hash/#dir'), { recursive: true });
    writeFileSync(join(tmp, 'hash/#notes'), 'notes');
    writeFileSync(join(tmp, 'hash/#dir/#inner'), 'inner');
    writeFileSync(join(tmp, 'hash/keep'), 'keep');
    sq(['pack', 'hash', 'hash.sqfs', ...OPTS, ...RAW, '-no-xattrs']);
    sq(['unpack-pf', 'hash.sqfs', 'hash.pf']);
    assert.match(file('hash.pf').toString(), /^\\#notes R /m);
    assert.match(file('hash.pf').toString(), /^\\#dir\/\\#inner R /m);
    sq(['pack', '-', 'hash-o.sqfs', ...OPTS, ...RAW, '-no-xattrs', '-pf', 'hash.pf']);
    assert.ok(file('hash-o.sqfs').equals(file('hash.sqfs')));
    const m = spawnSync('mksquashfs', ['-', 'hash-m.sqfs', ...OPTS, ...RAW, '-no-xattrs', '-pf', 'hash.pf'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    assert.ok(file('hash-m.sqfs').equals(file('hash.sqfs')));
  });
});

describe('squashfs R definitions (unit)', () => {
  it('reads data after the demarker (offsets from two bytes past it), and refuses R without a data section or in -p', () => {
    writeFileSync(join(tmp, 'r.pf'), '/ D 1 755 0 0\na R 2 644 0 0 3 0\nb R 2 644 0 0 2 3\n#\n# START OF DATA - DO NOT MODIFY\n#\nxyzhi');
    const { defs, data } = readPseudoFile(join(tmp, 'r.pf'));
    assert.deepEqual(defs, ['/ D 1 755 0 0', 'a R 2 644 0 0 3 0', 'b R 2 644 0 0 2 3']);
    const r: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [] };
    for (const d of defs) applyPseudo(r, d, 0, { data: data! });
    const b = r.entries!.find((e) => e.name === 'b')!.inode;
    assert.equal(b.size, 2);
    assert.throws(() => applyPseudo(r, 'c R 2 644 0 0 1 0', 0), /'R' definition can only be used in a pseudo file/);
    assert.throws(() => applyPseudo(r, 'c R 2 644 0 0 9 0', 0, { data: data! }), /past the end of the file/);
    writeFileSync(join(tmp, 'nodata.pf'), 'a R 2 644 0 0 3 0\n');
    assert.throws(() => readPseudoFile(join(tmp, 'nodata.pf')), (e: unknown) => e instanceof PseudoError && /No START OF DATA demarker/.test(e.message));
  });
});

describe('squashfs unpack-pf against squashfs-tools', { skip: skipWithout('mksquashfs', 'unsquashfs') }, () => {
  before(() => requireTools('mksquashfs', 'unsquashfs'));

  it('our pseudo file is unsquashfs -pf\'s (device numbers aside), and mksquashfs builds the same image from it', () => {
    const m = spawnSync('mksquashfs', ['tree', 'ref.sqfs', ...OPTS, ...RAW, '-no-xattrs'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    const u = spawnSync('unsquashfs', ['-pf', 'ref-u.pf', 'ref.sqfs'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(u.status, 0, u.stderr);
    sq(['unpack-pf', 'ref.sqfs', 'ref-o.pf']);
    // unsquashfs 4.5.1 prints rdev >> 8 and rdev & 0xff: 300:70000 comes out as "1118508 112"
    const ours = file('ref-o.pf').toString('latin1').replace(/^(\S+ B \d+ \d+ \d+ \d+) 300 70000$/m, '$1 1118508 112');
    assert.equal(ours, file('ref-u.pf').toString('latin1'));
    const r = spawnSync('mksquashfs', ['-', 'ref-again.sqfs', ...OPTS, ...RAW, '-no-xattrs', '-pf', 'ref-o.pf'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    sq(['pack', '-', 'ref-ours.sqfs', ...OPTS, ...RAW, '-no-xattrs', '-pf', 'ref-o.pf']);
    assert.ok(file('ref-again.sqfs').equals(file('ref-ours.sqfs')));
    assert.ok(file('ref-again.sqfs').equals(file('ref.sqfs')));
  });
});
