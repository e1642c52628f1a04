/**
 * What `squashfs pack` and `extract` print on stderr: a progress bar while data is stored or
 * extracted (only on a terminal; files, bytes, ETA; redrawn at most 10 times a second), and for
 * pack a summary at the end in the manner of mksquashfs's (sizes, ratio, counts, duplicates).
 */
import type { WriteResult } from './write.js';
import { flagNames } from './super.js';

const MiB = 1024 * 1024;
const mb = (n: number) => (n / MiB).toFixed(1);

function eta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h ? `${h}:${String(m % 60).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}` : `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/**
 * A stderr progress bar; pass it to packFromArgs as hooks. A total of 0 is one not known: bytes
 * are then shown without one, and with no file total either there is no bar, share or ETA.
 * `unit` names what is counted ("files", "entries").
 */
export function progressBar(out: NodeJS.WriteStream = process.stderr, unit = 'files'): { onStart(files: number, bytes: number): void; onProgress(files: number, bytes: number): void; done(): void } {
  let total = { files: 0, bytes: 0 };
  const start = Date.now();
  let last = 0;
  let drawn = false;
  /** The last counts reported and not drawn yet, drawn by done(). */
  let pending: [number, number] | undefined;
  const draw = (files: number, bytes: number) => {
    const width = Math.max(10, Math.min(50, (out.columns ?? 80) - 50));
    const size = total.bytes ? `${mb(bytes)}/${mb(total.bytes)} MiB` : `${mb(bytes)} MiB`;
    if (!total.bytes && !total.files) {
      out.write(`\r${files} ${unit} ${size} \x1b[K`);
      drawn = true;
      return;
    }
    const frac = Math.min(1, total.bytes ? bytes / total.bytes : files / total.files);
    const fill = Math.round(frac * width);
    const elapsed = (Date.now() - start) / 1000;
    const left = frac > 0 ? (elapsed / frac) * (1 - frac) : NaN;
    out.write(`\r[${'='.repeat(fill)}${' '.repeat(width - fill)}] ${files}/${total.files} ${unit} ${size} ${Math.round(frac * 100)}% ETA ${eta(left)} \x1b[K`);
    drawn = true;
  };
  return {
    onStart(files, bytes) {
      total = { files, bytes };
    },
    onProgress(files, bytes) {
      const now = Date.now();
      if (now - last < 100 && (files !== total.files || !total.files)) return void (pending = [files, bytes]);
      last = now;
      pending = undefined;
      draw(files, bytes);
    },
    done() {
      if (pending) draw(...pending);
      pending = undefined;
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}

/** The end-of-run summary (mksquashfs prints a similar block unless -quiet). */
export function summary(dest: string, r: WriteResult): string {
  const sb = r.superblock;
  const ratio = r.fileBytes ? ((sb.bytesUsed / r.fileBytes) * 100).toFixed(2) : '0';
  return [
    `${dest}: squashfs 4.0, ${sb.compression} compressed, data block size ${sb.blockSize}`,
    `\tflags: ${flagNames(sb.flags).join(' ') || 'none'}`,
    `\tfilesystem size ${(sb.bytesUsed / 1024).toFixed(2)} Kbytes (${mb(sb.bytesUsed)} Mbytes), ${ratio}% of uncompressed file data (${mb(r.fileBytes)} Mbytes)`,
    `\tinodes ${sb.inodes}, files ${r.files}, duplicate files removed ${r.duplicates}, fragments ${sb.fragments}, ids ${sb.noIds}`,
    '',
  ].join('\n');
}
