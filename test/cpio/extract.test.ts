/** extractRecords through the library: never outside the folder nor through a symlink, and linear in nesting depth. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../src/bytes/errors.js';
import { decodeCpio, encodeCpio, extractRecords } from '../../src/cpio/index.js';
import { tempDir } from '../helpers.js';
import { outsideTree } from './outside.js';

type Item = Parameters<typeof encodeCpio>[0][number];
const te = (t: string) => new TextEncoder().encode(t);
const records = (items: Parameters<typeof encodeCpio>[0]) => decodeCpio(encodeCpio(items)).records;
let tmp = '';
before(() => (tmp = tempDir('imgkit-cpio-extract-')));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `f` while counting fs.promises.lstat calls (extract.ts reads them through the ESM namespace). */
async function countingLstat(f: () => Promise<void>): Promise<number> {
  const fsp = createRequire(import.meta.url)('node:fs/promises') as { lstat: (...a: unknown[]) => Promise<unknown> };
  const original = fsp.lstat;
  let calls = 0;
  fsp.lstat = (...a: unknown[]) => {
    calls++;
    return original(...a);
  };
  syncBuiltinESMExports();
  try {
    await f();
  } finally {
    fsp.lstat = original;
    syncBuiltinESMExports();
  }
  return calls;
}

describe('extractRecords safety', () => {
  it('a folder named twice ends with the later mode and the first time, as the kernel leaves it (the QEMU test boots the same case)', async () => {
    const out = join(tmp, 'x-twice');
    await extractRecords(records([
      { name: 'd', mode: 0o40750, mtime: 1_000_000 },
      { name: 'd/f', mode: 0o100644, data: new Uint8Array(1) },
      { name: 'd', mode: 0o40705, mtime: 2_000_000 },
    ]), out);
    const st = lstatSync(join(out, 'd'));
    assert.equal(st.mode & 0o7777, 0o705);
    assert.equal(st.mtimeMs, 1_000_000_000);
  });

  it('refuses .., absolute names and a symlinked parent', async () => {
    const hostile: [string, Item[]][] = [
      ['dotdot', [{ name: '../escape', mode: 0o100644, data: new Uint8Array(1) }]],
      ['abs', [{ name: '/etc/escape', mode: 0o100644, data: new Uint8Array(1) }]],
      ['symparent', [{ name: 'l', mode: 0o120777, data: te(tmp) }, { name: 'l/escape', mode: 0o100644, data: new Uint8Array(1) }]],
    ];
    for (const [name, items] of hostile)
      await assert.rejects(extractRecords(records(items), join(tmp, `x-${name}`)), (e: unknown) => e instanceof FormatError && e.code === 'BAD_FIELD', name);
    assert.ok(!existsSync(join(tmp, 'escape')) && !existsSync('/etc/escape'));
  });

  it('changes nothing outside through entries that a later one replaced with a symlink', async () => {
    const { out, snapshot: before } = outsideTree(tmp);
    const was = before();
    const cases: [string, Item[]][] = [
      ['symgroup', [{ name: 'l', mode: 0o120777, ino: 7, nlink: 2, data: te(join(out, 'made')) }, { name: 'm', mode: 0o120777, ino: 7, nlink: 2, data: te('text') }]],
      ['relinked', [{ name: 'f', mode: 0o100644, ino: 9, nlink: 2 }, { name: 'f', mode: 0o120777, ino: 10, data: te(join(out, 'victim')) }, { name: 'g', mode: 0o100644, ino: 9, nlink: 2, data: te('new\n') }]],
      ['dirswap', [{ name: 'd', mode: 0o40755, ino: 1 }, { name: 'd/f', mode: 0o100777, ino: 5, nlink: 2 }, { name: 'd', mode: 0o120777, ino: 2, data: te(join(out, 'secret')) }, { name: 'g', mode: 0o104777, ino: 5, nlink: 2, mtime: 1 }]],
      ['dirmode', [{ name: 'd', mode: 0o40777, ino: 1, mtime: 12345 }, { name: 'd', mode: 0o120777, ino: 2, data: te(join(out, 'dir')) }]],
      ['dirfile', [{ name: 'a', mode: 0o40755, ino: 1 }, { name: 'a/b', mode: 0o40700, ino: 2 }, { name: 'a/b', mode: 0o100644, ino: 3, data: te('x') }]],
      // deep folders made and checked, then one above them swapped for a symlink out, then a link
      // group and a folder below the swapped one: the remembered folders must be checked again
      ['deepswap', [
        { name: 'a/b/c', mode: 0o40755, ino: 1 }, { name: 'a/b/c/f', mode: 0o100644, ino: 5, nlink: 2 },
        { name: 'a', mode: 0o120777, ino: 2, data: te(out) },
        { name: 'g', mode: 0o100644, ino: 5, nlink: 2, data: te('g\n') },
      ]],
    ];
    for (const [name, items] of cases) await extractRecords(records(items), join(tmp, `x-${name}`));
    assert.deepEqual(before(), was);
    assert.ok(!existsSync(join(out, 'made')) && !existsSync(join(out, 'b')));
    assert.equal(readFileSync(join(tmp, 'x-relinked/g'), 'utf8'), 'new\n');
    assert.equal(readlinkSync(join(tmp, 'x-symgroup/m')), 'text');
    assert.equal(lstatSync(join(tmp, 'x-dirswap/g')).nlink, 1);
    assert.equal(readFileSync(join(tmp, 'x-dirfile/a/b'), 'utf8'), 'x');
    assert.equal(lstatSync(join(tmp, 'x-deepswap/g')).nlink, 1);
  });

  it('a folder made earlier and replaced by a symlink or a file is not written through later', async () => {
    const out = join(tmp, 'outside2');
    mkdirSync(join(out, 'b'), { recursive: true });
    const made = [{ name: 'a', mode: 0o40755 }, { name: 'a/b', mode: 0o40755 }, { name: 'a/b/one', mode: 0o100644, data: te('1') }];
    await assert.rejects(
      extractRecords(records([...made, { name: 'a', mode: 0o120777, data: te(out) }, { name: 'a/b/two', mode: 0o100644, data: te('2') }]), join(tmp, 'x-swap-link')),
      (e: unknown) => e instanceof FormatError && /"a" is not a directory but a symlink/.test(e.message),
    );
    await assert.rejects(
      extractRecords(records([...made, { name: 'a/b', mode: 0o120777, data: te(join(out, 'b')) }, { name: 'a/b/two', mode: 0o100644, data: te('2') }]), join(tmp, 'x-swap-deep')),
      (e: unknown) => e instanceof FormatError && /"a\/b" is not a directory but a symlink/.test(e.message),
    );
    await assert.rejects(
      extractRecords(records([...made, { name: 'a', mode: 0o100644, data: te('f') }, { name: 'a/b/two', mode: 0o100644, data: te('2') }]), join(tmp, 'x-swap-file')),
      (e: unknown) => e instanceof FormatError && /"a" is not a directory/.test(e.message),
    );
    assert.ok(!existsSync(join(out, 'two')) && !existsSync(join(out, 'b/two')));
    // a folder replaced by a file and then made again is a folder again
    await extractRecords(records([...made, { name: 'a', mode: 0o100644 }, { name: 'a', mode: 0o40700 }, { name: 'a/b/two', mode: 0o100644, data: te('2') }]), join(tmp, 'x-again'));
    assert.equal(readFileSync(join(tmp, 'x-again/a/b/two'), 'utf8'), '2');
    assert.ok(!existsSync(join(tmp, 'x-again/a/b/one')));
  });

  it('a name refused anywhere in the archive fails it before anything is made', async () => {
    const items: Item[] = [{ name: 'a', mode: 0o40755 }, { name: 'a/f', mode: 0o100644, data: te('f') }, { name: 'b/../../escape', mode: 0o100644 }];
    const to = join(tmp, 'x-late-name');
    await assert.rejects(extractRecords(records(items), to), (e: unknown) => e instanceof FormatError && e.code === 'BAD_FIELD' && /names with ".." are refused/.test(e.message));
    assert.ok(!existsSync(to));
  });

  it('an extraction that fails midway removes what it made, never following a symlink it made, and keeps what was there', async () => {
    const out = join(tmp, 'outside3');
    mkdirSync(join(out, 'b'), { recursive: true });
    writeFileSync(join(out, 'b', 'keep'), 'outside');
    const items: Item[] = [
      { name: 'a', mode: 0o40755 }, { name: 'a/b', mode: 0o40755 }, { name: 'a/b/one', mode: 0o100644, data: te('1') },
      { name: 'top', mode: 0o100644, data: te('t') }, { name: 'kept/new', mode: 0o100644, data: te('n') },
      { name: 'a', mode: 0o120777, data: te(out) }, { name: 'a/b/two', mode: 0o100644, data: te('2') },
    ];
    const fails = (to: string) => assert.rejects(extractRecords(records(items), to), (e: unknown) => e instanceof FormatError && /"a" is not a directory but a symlink/.test(e.message));
    await fails(join(tmp, 'x-undo', 'deeper'));
    assert.ok(!existsSync(join(tmp, 'x-undo')), 'the folders made on the way are gone');
    const was = join(tmp, 'x-undo-was');
    mkdirSync(join(was, 'kept'), { recursive: true });
    writeFileSync(join(was, 'kept', 'old'), 'old');
    await fails(was);
    assert.deepEqual(readdirSync(was), ['kept']);
    assert.deepEqual(readdirSync(join(was, 'kept')), ['old']);
    assert.equal(readFileSync(join(out, 'b', 'keep'), 'utf8'), 'outside');
    assert.deepEqual(readdirSync(join(out, 'b')), ['keep']);
  });

  it('an error names the component that is not a folder, also when names repeat', async () => {
    const items: Item[] = [{ name: 'a/a', mode: 0o40755 }, { name: 'a/a/a', mode: 0o100644 }, { name: 'a/a/a/a', mode: 0o100644 }];
    await assert.rejects(extractRecords(records(items), join(tmp, 'x-repeat')), (e: unknown) => e instanceof FormatError && /"a\/a\/a" is not a directory/.test(e.message));
  });
});

describe('extractRecords cost', () => {
  it('looks each folder up a bounded number of times, however deep the nesting (was one lstat per parent per entry)', async () => {
    const depth = 300;
    const items: Item[] = [];
    for (let d = 1; d <= depth; d++) {
      const dir = Array(d).fill('d').join('/');
      items.push({ name: dir, mode: 0o40755, mtime: 7 }, { name: `${dir}/f`, mode: 0o100644, data: te(String(d)) });
    }
    const into = join(tmp, 'x-deep');
    const calls = await countingLstat(() => extractRecords(records(items), into));
    assert.ok(calls <= 6 * items.length, `${calls} lstat calls for ${items.length} entries`);
    const deepest = join(into, Array(depth).fill('d').join('/'));
    assert.equal(readFileSync(join(deepest, 'f'), 'utf8'), String(depth));
    assert.equal(lstatSync(deepest).mtimeMs, 7000);
  });
});
