/**
 * -regex and -wildcards excludes (-e, -ef): POSIX extended expressions searched in each path
 * component, anchored at the top unless "... ", a matching folder excluded whole. Differential:
 * mksquashfs 4.5.1 with the same -regex/-ef arguments keeps the same entries (unsquashfs -lln
 * equal, and with -noI -noD -noF -noX the same bytes).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { fnmatch, posixRegex, regexExcluder, wildcardExcluder } from '../../src/squashfs/select.js';

const bin = join(root, 'bin/squashfs');
const FIXED = ['-noappend', '-quiet', '-no-progress', '-all-time', '5', '-mkfs-time', '0', '-noI', '-noD', '-noF', '-noX'];
let tmp = '';

before(() => {
  ensureBuilt('dist/cli/squashfs.js');
  tmp = tempDir('imgkit-sqfs-select-');
  const files = ['usr/lib/libc.so.6', 'usr/lib/libc.a', 'usr/lib/glib.so', 'usr/lib/x86_64/libm.a', 'usr/bin/ls', 'usr/share/man/man1/ls.1',
    'usr/share/man/mann/tcl.n', 'man/man8/init.8', 'lib/libz.so', '.hidden', 'etc/.profile', 'etc/passwd', 'name with space', '#hash', ' lead', 'a1b2'];
  for (const f of files) {
    mkdirSync(join(tmp, 't', f, '..'), { recursive: true });
    writeFileSync(join(tmp, 't', f), f);
  }
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('squashfs exclude patterns (unit)', () => {
  it('posixRegex: classes, brackets with literal backslash and leading ], glibc escapes, "." matches any character', () => {
    const m = (re: string, s: string) => posixRegex(re).test(s);
    assert.ok(m('^lib.*\\.so$', 'libz.so') && !m('^lib.*\\.so$', 'libz.so.1'));
    assert.ok(m('[[:digit:]][[:alpha:]]', 'a1b') && !m('^[[:upper:]]', 'abc'));
    assert.ok(m('[]x]', ']') && m('[\\d]', '\\') && !m('[\\d]', '5'));
    assert.ok(m('\\<ls\\>', 'ls.1') && !m('\\<ls\\>', 'als'));
    assert.ok(m('^a.b$', 'a\nb') && m('x{2}', 'axxb') && m('(a|b)c', 'bc'));
    assert.throws(() => posixRegex('a\\'), SyntaxError);
    assert.throws(() => posixRegex('[a'), SyntaxError);
    assert.throws(() => posixRegex('[[:nope:]]'), SyntaxError);
  });

  it('regexExcluder: unanchored per component, anchored at the top unless "... ", "/" prefixes refused', () => {
    const ex = regexExcluder(['lib', 'usr/share/ma.$', '... \\.a$']);
    assert.ok(ex('lib') && ex('glibc') && ex('usr/share/man') && ex('usr/lib/x86_64/libm.a') && ex('libc.a'));
    assert.ok(!ex('usr/lib') && !ex('usr/lib/libc.so.6') && !ex('usr/share/man1') && !ex('usr/share'));
    assert.throws(() => regexExcluder(['./x']), /prefixed excludes are not supported/);
    assert.throws(() => regexExcluder(['a(']), /invalid regex a\( in exclude a\(/);
  });

  it('fnmatch flags: FNM_PATHNAME keeps wildcards off "/", FNM_PERIOD guards leading dots', () => {
    assert.ok(fnmatch('usr/*/x', 'usr/lib/x', { pathname: true }) && !fnmatch('usr/*', 'usr/lib/x', { pathname: true }) && fnmatch('usr/*', 'usr/lib/x'));
    assert.ok(!fnmatch('*', '.a', { period: true }) && fnmatch('*', '.a') && !fnmatch('x/*', 'x/.a', { pathname: true, period: true }) && fnmatch('x/.*', 'x/.a', { pathname: true, period: true }));
    assert.ok(!fnmatch('[.]a', '.a', { period: true }) && fnmatch('[!b]a', 'ca') && fnmatch('\\*', '*') && !fnmatch('\\*', 'x'));
    const w = wildcardExcluder(['... *.a', 'usr/share/man/man[1-9]']);
    assert.ok(w('usr/lib/libc.a') && w('usr/share/man/man1') && !w('usr/share/man/mann') && !w('.a'));
  });
});

describe('squashfs -regex against mksquashfs', { skip: skipWithout('mksquashfs', 'unsquashfs') }, () => {
  before(() => requireTools('mksquashfs', 'unsquashfs'));
  const lln = (img: string) => spawnSync('unsquashfs', ['-lln', '-UTC', join(tmp, img)], { encoding: 'utf8' }).stdout;
  const both = (name: string, args: string[], sources = ['t']) => {
    const o = spawnSync(bin, ['pack', ...sources, `${name}-o.sqfs`, ...FIXED, ...args], { cwd: tmp, encoding: 'utf8' });
    assert.equal(o.status, 0, o.stderr);
    const m = spawnSync('mksquashfs', [...sources, `${name}-m.sqfs`, ...FIXED, ...args], { cwd: tmp, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr + m.stdout);
    assert.equal(lln(`${name}-o.sqfs`), lln(`${name}-m.sqfs`), args.join(' '));
    assert.ok(readFileSync(join(tmp, `${name}-o.sqfs`)).equals(readFileSync(join(tmp, `${name}-m.sqfs`))), `${name}: images differ`);
    return lln(`${name}-o.sqfs`);
  };

  it('one-component, multi-component and "... " expressions keep the same entries', () => {
    const cases: [string[], RegExp, RegExp][] = [
      [['-e', '^lib'], /usr\/lib\/libc\.a/, /squashfs-root\/lib$/m],
      [['-e', '... \\.a$'], /libc\.so\.6/, /libc\.a|libm\.a/],
      [['-e', 'usr/lib/^(lib|g)', '^[[:digit:]#]'], /x86_64/, /glib|libc|#hash/],
      [['-e', 'usr/share/man/man[0-9]$', '... ^\\.'], /mann/, /man1|\.hidden|\.profile/],
      [['-e', '[0-9]', 'e'], /usr\/bin\/ls/, /a1b2|etc|name with space| lead/],
    ];
    cases.forEach(([args, keep, gone], i) => {
      const l = both(`re${i}`, ['-regex', ...args]);
      assert.match(l, keep, args.join(' '));
      assert.doesNotMatch(l, gone, args.join(' '));
    });
  });

  it('several sources or -keep-as-directory: patterns start with the source\'s entry name', () => {
    mkdirSync(join(tmp, 'u/etc'), { recursive: true });
    writeFileSync(join(tmp, 'u/etc/passwd'), 'u');
    const l = both('multi', ['-regex', '-e', '^t$/^(usr|man)$', 'u/^e'], ['t', 'u']);
    assert.match(l, /squashfs-root\/t\/lib\/libz\.so$/m);
    assert.doesNotMatch(l, /squashfs-root\/t\/(usr|man)|squashfs-root\/u\/etc/);
    assert.doesNotMatch(both('multi-top', ['-wildcards', '-e', 'u'], ['t', 'u']), /squashfs-root\/u/);
    assert.doesNotMatch(both('kad', ['-keep-as-directory', '-regex', '-e', 't/^\\.', 't/etc/pass'], ['t']), /squashfs-root\/t\/\.hidden|passwd/);
  });

  it('-ef files: leading white space and # comments skipped, one leading backslash kept out, the rest as written', () => {
    writeFileSync(join(tmp, 'ef.txt'), '# comment\n   ^etc$\n\\#hash\n\\ lead\n\n\t# indented comment\nusr/bin\n');
    const l = both('ef', ['-regex', '-ef', 'ef.txt']);
    assert.doesNotMatch(l, /squashfs-root\/etc|#hash| lead|usr\/bin/);
    assert.match(l, /name with space/);
    const w = both('efw', ['-wildcards', '-ef', 'ef.txt']);
    assert.doesNotMatch(w, /#hash| lead|usr\/bin/);
    // the last of -wildcards and -regex wins
    both('last', ['-wildcards', '-regex', '-e', '^l']);
  });
});
