/**
 * mksquashfs's file selection: `-wildcards` and `-regex` exclude patterns and `-sort` priority files.
 *
 * Excludes with -wildcards or -regex (USAGE-MKSQUASHFS §6; mksquashfs.c add_exclude/excluded): a
 * pattern is split at "/" and matched component by component against an entry's path in the image
 * (with several sources or -keep-as-directory it starts with the source's entry name), anchored at
 * the top, or at any depth when it starts with "... ".
 * Matching the last component excludes the entry, and a directory with all of its contents.
 * -wildcards matches a component with fnmatch(FNM_PATHNAME|FNM_PERIOD); -regex searches it with a
 * POSIX extended regular expression (regcomp REG_EXTENDED|REG_NOSUB: unanchored, so "lib" excludes
 * "libc.so" and "glib"; anchor with ^ and $). A "... a/b" pattern excludes "b" inside any "a", as
 * the documentation says and 4.6 does (4.5.1 wrongly excluded every "a": squashfs-tools 746a81c8).
 *
 * Sort files (§7, sort.c): lines `pathname priority`, priority −32768…32767, `#` comments; the
 * pathname names a host file (as given, or relative to a source) and matches by device and inode.
 */
import { lstatSync } from 'node:fs';
import { readTextSync } from '../bytes/input.js';
import { join, resolve } from 'node:path';

/** fnmatch(3) of one path component with FNM_PATHNAME|FNM_PERIOD: `*`, `?`, `[...]`/`[!...]`, `\` escapes; a leading `.` only matches a literal `.`. */
export function matchComponent(pattern: string, name: string): boolean {
  return fnmatch(pattern, name, { pathname: true, period: true });
}

/**
 * fnmatch(3): `pathname` (FNM_PATHNAME) keeps `*`, `?` and brackets from matching "/"; `period`
 * (FNM_PERIOD) lets a leading "." (with `pathname`, also one right after a "/") match only a
 * literal ".".
 */
export function fnmatch(pattern: string, s: string, o: { pathname?: boolean; period?: boolean } = {}): boolean {
  const key = `${o.pathname ? 1 : 0}${o.period ? 1 : 0}${pattern}`;
  let re = globCache.get(key);
  if (!re) {
    re = globRegex(pattern, !!o.pathname, !!o.period);
    if (globCache.size > 256) globCache.clear();
    globCache.set(key, re);
  }
  return re.test(s);
}

const globCache = new Map<string, RegExp>();
function globRegex(p: string, pathname: boolean, period: boolean): RegExp {
  const any = pathname ? '[^/]' : '[^]';
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    // where a leading "." has to be matched literally, no wildcard may take it
    const guard = period && (i === 0 || (pathname && p[i - 1] === '/')) ? '(?!\\.)' : '';
    if (c === '*') out += `${guard}${any}*`;
    else if (c === '?') out += guard + any;
    else if (c === '\\' && i + 1 < p.length) out += escape(p[++i]!);
    else if (c === '[') {
      const b = bracket(p, i, true);
      if (!b) out += '\\[';
      else {
        out += guard + (pathname ? `(?!/)${b.re}` : b.re);
        i = b.end;
      }
    } else out += escape(c);
  }
  return new RegExp(`^${out}$`);
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** POSIX character classes, as JavaScript class contents (the C locale). */
const CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: '0-9a-zA-Z', upper: 'A-Z', lower: 'a-z', xdigit: '0-9A-Fa-f',
  space: ' \\t\\n\\v\\f\\r', blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', print: ' -~', graph: '!-~', cntrl: '\\x00-\\x1f\\x7f',
};

/**
 * The bracket expression opening at `p[at]` as a JavaScript class, and the index of its "]"; or
 * undefined when it does not close (the "[" is then literal). `glob`: "!" negates too and a
 * backslash escapes (fnmatch); in a regular expression a backslash is literal inside brackets.
 */
function bracket(p: string, at: number, glob: boolean): { re: string; end: number } | undefined {
  let i = at + 1;
  let neg = false;
  if (p[i] === '^' || (glob && p[i] === '!')) {
    neg = true;
    i++;
  }
  let body = '';
  for (let first = true; i < p.length; first = false) {
    const c = p[i]!;
    if (c === ']' && !first) return { re: `[${neg ? '^' : ''}${body}]`, end: i };
    if (c === '[' && (p[i + 1] === ':' || p[i + 1] === '=' || p[i + 1] === '.')) {
      const kind = p[i + 1]!;
      const close = p.indexOf(`${kind}]`, i + 2);
      if (close < 0) return undefined;
      const name = p.slice(i + 2, close);
      if (kind === ':') {
        const cls = CLASSES[name];
        if (cls === undefined) throw new SyntaxError(`unknown character class [:${name}:]`);
        body += cls;
      } else body += escapeInClass(name);
      i = close + 2;
      continue;
    }
    if (glob && c === '\\' && i + 1 < p.length) {
      body += escapeInClass(p[i + 1]!);
      i += 2;
      continue;
    }
    body += c === '-' ? '-' : escapeInClass(c);
    i++;
  }
  return undefined;
}
const escapeInClass = (s: string) => s.replace(/[\\\]\[^-]/g, '\\$&');

/**
 * A POSIX extended regular expression (glibc regcomp with REG_EXTENDED) as a JavaScript RegExp:
 * bracket expressions with [:classes:], a backslash literal inside brackets, and glibc's escapes
 * \w \W \s \S \b \B \< \> \` and \'. A pattern the translation cannot express throws a SyntaxError.
 */
export function posixRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[++i];
      if (n === undefined) throw new SyntaxError('trailing backslash');
      out += n === '<' ? '\\b(?=\\w)' : n === '>' ? '\\b(?<=\\w)' : n === '`' ? '^' : n === "'" ? '$'
        : /[wWsSbB1-9]/.test(n) ? `\\${n}` : escape(n);
    } else if (c === '[') {
      const b = bracket(pattern, i, false);
      if (!b) throw new SyntaxError('unmatched [ or [^');
      out += b.re;
      i = b.end;
    } else if (c === '.') out += '[^]';
    else out += c === '/' ? '\\/' : c;
  }
  return new RegExp(out);
}

/** One compiled -wildcards or -regex exclude: its components, and whether it floats ("... "). */
interface Exclude {
  anywhere: boolean;
  parts: ((name: string) => boolean)[];
}

/**
 * Checks -wildcards/-regex exclude patterns as mksquashfs's add_exclude() does: "/", "./" and
 * "../" prefixes are refused.
 */
function compileExcludes(patterns: readonly string[], match: (part: string, pattern: string) => (name: string) => boolean): Exclude[] {
  return patterns.map((p) => {
    if (p.startsWith('/') || p.startsWith('./') || p.startsWith('../')) throw new RangeError(`exclude "${p}": /, ./ and ../ prefixed excludes are not supported with -wildcards or -regex`);
    const anywhere = p.startsWith('... ');
    const parts = (anywhere ? p.slice(4) : p).split('/').filter((x) => x !== '');
    return { anywhere, parts: parts.map((q) => match(q, p)) };
  }).filter((c) => c.parts.length > 0);
}

function excluder(compiled: Exclude[]): (rel: string) => boolean {
  return (rel) => {
    const path = rel.split('/');
    return compiled.some(({ anywhere, parts }) => {
      if (parts.length > path.length || (!anywhere && parts.length !== path.length)) return false;
      const from = path.length - parts.length;
      return parts.every((m, i) => m(path[from + i]!));
    });
  };
}

/** A predicate for ScanOptions.skip from -wildcards exclude patterns. */
export function wildcardExcluder(patterns: readonly string[]): (rel: string) => boolean {
  return excluder(compileExcludes(patterns, (q) => (name) => matchComponent(q, name)));
}

/** A predicate for ScanOptions.skip from -regex exclude patterns; a bad expression is a RangeError naming it. */
export function regexExcluder(patterns: readonly string[]): (rel: string) => boolean {
  return excluder(compileExcludes(patterns, (q, whole) => {
    let re: RegExp;
    try {
      re = posixRegex(q);
    } catch (e) {
      throw new RangeError(`invalid regex ${q} in exclude ${whole}, because ${(e as Error).message}`);
    }
    return (name) => re.test(name);
  }));
}

/** Reads a -sort file into priorities by "dev:ino" of the host files it names. */
export function readSortFile(file: string, sources: readonly string[], onWarning?: (m: string) => void): Map<string, number> {
  const out = new Map<string, number>();
  for (const [n, raw] of readTextSync(file, 'squashfs', 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(.*\S)\s+(-?\d+)$/.exec(line);
    if (!m) throw new RangeError(`-sort: line ${n + 1} of ${file} is not "pathname priority"`);
    const priority = Number(m[2]);
    if (priority < -32768 || priority > 32767) throw new RangeError(`-sort: priority ${priority} on line ${n + 1} is outside -32768..32767`);
    const path = m[1]!.replace(/\\(.)/g, '$1');
    let found = false;
    for (const cand of [resolve(path), ...sources.map((s) => join(s, path))]) {
      const st = lstatSync(cand, { bigint: true, throwIfNoEntry: false });
      if (st) {
        out.set(`${st.dev}:${st.ino}`, priority);
        found = true;
        break;
      }
    }
    if (!found) onWarning?.(`-sort: cannot find ${path}, ignored`);
  }
  return out;
}
