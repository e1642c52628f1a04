/**
 * What an extraction made in its output folder, so that one that fails leaves nothing of the image
 * behind. When the run made the output folder itself, that folder and the outermost one `mkdir -p`
 * made on the way are all there is to remove. Inside a folder that was there before, the run
 * records each entry it makes where nothing was (what goes inside a folder it made is covered by
 * that folder); folders that were there and that the run only adds to are kept, and so is
 * anything the run replaced: nothing that was there before the run is ever removed by it.
 */
import { lstatSync, rmSync } from 'node:fs';
import { mkdir, realpath, stat } from 'node:fs/promises';
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
    /**
     * The folders this run made that hold all it makes: the output folder (its real path) and the
     * outermost folder `mkdir -p` made on the way (not always above it: "new/../out"); empty when
     * the output folder was there.
     */
    readonly whole: readonly string[],
  ) {}

  /**
   * Runs `extract` into `dir` (made with its missing parents); if it fails, removes what was
   * recorded, then rethrows. `extract` must have settled all its work when it settles.
   */
  static async around<T>(dir: string, extract: (rollback: Rollback) => Promise<T>): Promise<T> {
    const rollback = await Rollback.open(dir);
    try {
      return await extract(rollback);
    } catch (e) {
      rollback.undo();
      throw e;
    }
  }

  /** Makes `dir` and its missing parents, and starts recording. */
  private static async open(dir: string): Promise<Rollback> {
    const existed = await stat(dir).then(() => true, () => false);
    const first = await mkdir(dir, { recursive: true });
    if (existed) return new Rollback([]);
    return new Rollback([await realpath(dir), ...(first !== undefined ? [first] : [])]);
  }

  /** Whether entries must be recorded: false when the output folder is this run's own. */
  get tracking(): boolean {
    return this.whole.length === 0;
  }

  /**
   * Records `host` (not a folder), about to be made, if nothing is there now. It is looked at only
   * in folders that were there before: in this run's own, nothing was.
   */
  makingFile(host: HostPath): void {
    if (!this.tracking || this.#mine.has(parentOf(host))) return;
    if (!lstatSync(b(host), { throwIfNoEntry: false })) this.#made.push(host);
  }

  /**
   * Records `host`, made (or about to be) by this run where nothing was; `isDir` when it is a
   * folder, whose contents are then this run's too. Callers record nothing they replace or only
   * add to.
   */
  made(host: HostPath, isDir: boolean): void {
    if (!this.tracking) return;
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
    if (!this.tracking) {
      for (const w of this.whole) gone(w);
      return;
    }
    for (let i = this.#made.length - 1; i >= 0; i--) gone(b(this.#made[i]!));
    this.#made.length = 0;
    this.#mine.clear();
  }
}
