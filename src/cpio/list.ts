/** Listings: names (`cpio -t`) and the long form of `cpio -tv`, in UTC. */
import { decodeName, fileType, modeString, S_IFBLK, S_IFCHR, S_IFLNK } from './layout.js';
import type { CpioRecord } from './read.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS = 6 * 30 * 24 * 60 * 60;

/** ctime(3)-style date as GNU cpio prints it: "Mon dd hh:mm" within six months of `now`, else "Mon dd  yyyy". */
export function listDate(mtime: number, now: number): string {
  const d = new Date(mtime * 1000);
  const day = `${MONTHS[d.getUTCMonth()]!} ${String(d.getUTCDate()).padStart(2, ' ')}`;
  if (now - mtime > SIX_MONTHS || now - mtime < 0) return `${day}  ${d.getUTCFullYear()}`;
  return `${day} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

export interface LongOptions {
  /** Print uid/gid as numbers (cpio -n). Default: 0 as "root", others as numbers. */
  numeric?: boolean;
  /** Seconds since the epoch used for the six-month rule (default: now). */
  now?: number;
}

/** One `cpio -tv` line (without the newline). */
export function longLine({ entry: e, data }: CpioRecord, opts: LongOptions = {}): string {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const who = (id: number): string => (opts.numeric ? String(id).padEnd(8) : (id === 0 ? 'root' : String(id)).padEnd(8));
  const t = fileType(e.mode);
  const size = t === S_IFCHR || t === S_IFBLK ? `${String(e.rdevMajor).padStart(3)}, ${String(e.rdevMinor).padStart(3)}` : String(e.filesize).padStart(8);
  let line = `${modeString(e.mode)} ${String(e.nlink).padStart(3)} ${who(e.uid)} ${who(e.gid)} ${size} ${listDate(e.mtime, now)} ${e.name}`;
  if (t === S_IFLNK) {
    const end = data.indexOf(0);
    line += ` -> ${decodeName(end < 0 ? data : data.subarray(0, end))}`;
  }
  return line;
}
