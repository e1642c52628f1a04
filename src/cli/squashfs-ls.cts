/**
 * `squashfs ls [-l] IMG` in one call to the native addon (native/sqlist.c), from the CommonJS
 * launchers in bin/, before any ES module loads: a listing is a short job, and Node's ES module
 * loader and the reader's modules took most of its time (~130 ms against unsquashfs's ~35 ms on a
 * 33,000-file image, now ~35 ms).
 *
 * Only the plain forms take this way: `ls IMG` and `ls -l IMG` (or `--long`). The addon lists the
 * whole image or returns nothing, printing nothing, wherever src/squashfs/list.ts would read the
 * image otherwise (errors included); then `squashfs.js` runs as always and prints the same listing,
 * or the error. Without the addon, or with IMGKIT_NATIVE=0, it is always that way.
 */
import fs = require('node:fs');

interface ListingAddon {
  squashfsListing?(path: string, long: boolean): Uint8Array | undefined;
}

/** The listing's bytes to stdout: exit status 0, or 1 when stdout fails (EPIPE: the reader is gone, 0). */
function writeOut(tool: string, b: Uint8Array): void {
  const failed = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`${tool}: ${e.message}\n`);
    process.exitCode = 1;
  };
  for (let at = 0; at < b.length; ) {
    try {
      at += fs.writeSync(1, b, at, b.length - at);
    } catch (e) {
      // a non-blocking pipe that is full: the rest through Node's stream, which waits for it
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        process.stdout.on('error', failed);
        process.stdout.write(b.subarray(at));
        return;
      }
      failed(e as NodeJS.ErrnoException);
      return;
    }
  }
}

/**
 * Lists the image when `args` (after the tool's name) is a plain `ls [-l] IMG` and the addon can;
 * false, having printed nothing, when the ES module CLI must run instead.
 */
function listed(tool: string, args: readonly string[]): boolean {
  if (args[0] !== 'ls' || process.env.IMGKIT_NATIVE === '0') return false;
  const long = args.length === 3 && (args[1] === '-l' || args[1] === '--long');
  if (!long && args.length !== 2) return false;
  const img = args[args.length - 1]!;
  if (img === '' || img.startsWith('-')) return false;
  let addon: ListingAddon;
  try {
    // dist/cli/ → native/build/Release, as src/codec/native.ts finds it
    addon = require('../../native/build/Release/imgkit_native.node') as ListingAddon;
  } catch {
    return false;
  }
  const listing = addon.squashfsListing?.(img, long);
  if (!listing) return false;
  writeOut(tool, listing);
  return true;
}

export = { listed };
