/** File access for /include/ and /incbin/ as dtc does it: the including file's folder first, then each -i folder. */
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { IncludeResolver } from './lexer.js';
import type { IncbinReader } from './parser.js';
import { DtsError } from './errors.js';
import { readInputSync, readTextSync } from '../../bytes/input.js';

/** srcpos.c get_dirname: the part before the last '/', or none. */
function dirOf(path: string): string | undefined {
  const i = path.lastIndexOf('/');
  return i < 0 ? undefined : path.slice(0, i);
}

/** util.c join_path. */
const joinPath = (dir: string, name: string): string => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

/**
 * srcpos.c fopen_any_on_path: the including file's folder (the working folder when its name has no '/'),
 * then each search folder; the name comes back as dtc spells it (it appears in error positions).
 */
function find(name: string, fromFile: string, searchPaths: readonly string[]): string {
  const tryOpen = (dir: string | undefined): string | undefined => {
    const p = dir === undefined || isAbsolute(name) ? name : joinPath(dir, name);
    try {
      // fopen takes anything but a folder (a device, a pipe)
      if (!statSync(p).isDirectory()) return p;
    } catch {
      /* try the next folder */
    }
    return undefined;
  };
  const found = tryOpen(dirOf(fromFile)) ?? searchPaths.reduce<string | undefined>((f, d) => f ?? tryOpen(d), undefined);
  if (found === undefined) throw new DtsError(`Couldn't open "${name}": No such file or directory`);
  return found;
}

export function fileAccessFor(searchPaths: readonly string[]): { resolveInclude: IncludeResolver; readIncbin: IncbinReader } {
  return {
    resolveInclude: (name, from) => {
      const p = find(name, from, searchPaths);
      return { name: p, text: readTextSync(p, 'dts', 'latin1') };
    },
    readIncbin: (name, from) => readInputSync(find(name, from, searchPaths), 'dts'),
  };
}
