/** File access for /include/ and /incbin/ as dtc does it: the including file's folder first, then each -i folder. */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { IncludeResolver } from './lexer.js';
import type { IncbinReader } from './parser.js';
import { DtsError } from './errors.js';

function find(name: string, fromFile: string, searchPaths: readonly string[]): string {
  if (isAbsolute(name)) return name;
  for (const dir of [dirname(fromFile), ...searchPaths]) {
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* try the next folder */
    }
  }
  throw new DtsError(`Couldn't open "${name}": No such file or directory`);
}

export function fileAccessFor(searchPaths: readonly string[]): { resolveInclude: IncludeResolver; readIncbin: IncbinReader } {
  return {
    resolveInclude: (name, from) => {
      const p = find(name, from, searchPaths);
      return { name: p, text: readFileSync(p, 'latin1') };
    },
    readIncbin: (name, from) => new Uint8Array(readFileSync(find(name, from, searchPaths))),
  };
}
