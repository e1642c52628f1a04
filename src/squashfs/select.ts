/**
 * mksquashfs's file selection: `-wildcards` exclude patterns and `-sort` priority files.
 *
 * Wildcard excludes (USAGE-MKSQUASHFS §6, fnmatch with FNM_PATHNAME|FNM_PERIOD): a pattern is
 * matched component by component against the path of an entry relative to its source, anchored
 * at the top, or at any depth when it starts with "... ". Matching a directory excludes all of it.
 *
 * Sort files (§7, sort.c): lines `pathname priority`, priority −32768…32767, `#` comments; the
 * pathname names a host file (as given, or relative to a source) and matches by device and inode.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** fnmatch(3) of one path component: `*`, `?`, `[...]`/`[!...]`, `\` escapes; a leading `.` only matches a literal `.`. */
export function matchComponent(pattern: string, name: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.') && !pattern.startsWith('\\.')) return false;
  return new RegExp(`^${globToRegex(pattern)}$`, 's').test(name);
}

function globToRegex(p: string): string {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\' && i + 1 < p.length) out += escape(p[++i]!);
    else if (c === '[') {
      const close = p.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        let body = p.slice(i + 1, close);
        const neg = body.startsWith('!') || body.startsWith('^');
        if (neg) body = body.slice(1);
        out += `[${neg ? '^' : ''}${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else out += escape(c);
  }
  return out;
}
const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A predicate for ScanOptions.skip from -wildcards exclude patterns. */
export function wildcardExcluder(patterns: readonly string[]): (rel: string) => boolean {
  const compiled = patterns.map((p) => {
    const anywhere = p.startsWith('... ');
    return { anywhere, parts: (anywhere ? p.slice(4) : p).split('/').filter((x) => x && x !== '.') };
  }).filter((c) => c.parts.length > 0);
  return (rel) => {
    const path = rel.split('/');
    return compiled.some(({ anywhere, parts }) => {
      if (parts.length > path.length || (!anywhere && parts.length !== path.length)) return false;
      const from = path.length - parts.length;
      return parts.every((q, i) => matchComponent(q, path[from + i]!));
    });
  };
}

/** Reads a -sort file into priorities by "dev:ino" of the host files it names. */
export function readSortFile(file: string, sources: readonly string[], onWarning?: (m: string) => void): Map<string, number> {
  const out = new Map<string, number>();
  for (const [n, raw] of readFileSync(file, 'utf8').split('\n').entries()) {
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
