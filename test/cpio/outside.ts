/** A folder outside an extraction's destination, and a snapshot of it, for the tests that nothing there changes. */
import { lstatSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Makes `tmp`/outside (a folder, a folder with a file, a file) afresh; `snapshot()` reads back what a write through a link would change. */
export function outsideTree(tmp: string): { out: string; snapshot: () => unknown[] } {
  const out = join(tmp, 'outside');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'dir'), { recursive: true });
  mkdirSync(join(out, 'secret'));
  writeFileSync(join(out, 'victim'), 'original');
  writeFileSync(join(out, 'secret/f'), 'secret');
  utimesSync(join(out, 'dir'), 1000, 1000);
  const snapshot = () => ['dir', 'secret', 'secret/f', 'victim'].map((f) => {
    const st = lstatSync(join(out, f));
    return [f, st.mode, st.nlink, st.mtimeMs, st.isFile() ? readFileSync(join(out, f), 'utf8') : ''];
  });
  return { out, snapshot };
}
