/**
 * What an extraction made in its output folder, so that one that fails leaves nothing of the image
 * behind. When the run made the output folder itself, the outermost folder that `mkdir -p` made is
 * all there is to remove. Inside a folder that was there before, the run records each entry it makes
 * there (what goes inside a folder it made is covered by that folder); folders that were there
 * before and that the run only adds to are kept. An entry that replaced something in its way is
 * removed like any other: what was in the way is gone either way.
 */
import { rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { sep } from 'node:path';
import { hostBuffer as b, type HostPath } from './names.js';

/** The folder `host` is in, as the same kind of path (relative names' folder is "."). */
function parentOf(host: HostPath): HostPath {
  const at = host.lastIndexOf(sep);
  return at < 0 ? '.' : host.slice(0, at) || sep;
}

export class Rollback {
  /** Folders this run made inside folders that were there before (only kept while there is such a folder). */
  readonly #mine = new Set<HostPath>();
  /** What this run made directly in folders that were there before, in the order made. */
  readonly #made: HostPath[] = [];

  private constructor(
    /** The outermost folder this run made on the way to the output folder, if it made any. */
    readonly madeTop: string | undefined,
  ) {}

  /** Makes `dir` and its missing parents, and starts recording. */
  static async open(dir: string): Promise<Rollback> {
    return new Rollback(await mkdir(dir, { recursive: true }));
  }

  /**
   * Records `host`, just made (or about to be) by this run; `isDir` when it is a folder, whose
   * contents are then this run's too. A folder that was there and is only added to is not recorded.
   */
  made(host: HostPath, isDir: boolean): void {
    if (this.madeTop !== undefined) return;
    if (!this.#mine.has(parentOf(host))) this.#made.push(host);
    if (isDir) this.#mine.add(host);
  }

  /**
   * Removes what the run made, never following a symlink. Errors are not reported: the failure
   * that led here is the one to report, and what cannot be removed stays.
   */
  undo(): void {
    const gone = (p: string | Buffer): void => {
      try {
        rmSync(p, { recursive: true, force: true });
      } catch {
        // left as it is
      }
    };
    if (this.madeTop !== undefined) return gone(this.madeTop);
    for (let i = this.#made.length - 1; i >= 0; i--) gone(b(this.#made[i]!));
    this.#made.length = 0;
    this.#mine.clear();
  }
}
