/**
 * Argument helpers shared by the uimage commands (kept apart so that each command loads only what it needs).
 */
import type { RandomAccess } from '../bytes/random.js';
import { FDT_MAGIC } from '../dtb/layout.js';
import { TABLES, idOf, type Category } from '../uimage/tables.js';
import { UsageError } from './run.js';

/** -a / -e: strtoull(…, 16) as mkimage, but values past 32 bits are refused rather than cut. */
export function parseHexAddr(s: string, what: string): number {
  const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)$/.exec(s);
  if (!m) throw new UsageError(`invalid ${what} '${s}' (hex, with or without 0x)`);
  const v = parseInt(m[1]!, 16);
  if (v > 0xffff_ffff) throw new UsageError(`${what} '${s}' does not fit in 32 bits`);
  return v;
}

/** mkimage's show_valid_options(): one row per value (its first name), sorted by name. */
export function listTable(category: Category): string {
  const seen = new Set<number>();
  const rows = TABLES[category].filter((e) => !seen.has(e.id) && seen.add(e.id)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return rows.map((e) => `\t${e.name.padEnd(15)}  ${e.long}\n`).join('');
}

export function enumArg(category: Category, flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const id = idOf(category, v);
  if (id === undefined) throw new UsageError(`invalid ${flag} '${v}'; valid names:\n${listTable(category).trimEnd()}`);
  return id;
}

export function hexArg(s: string | undefined, what: string): number | undefined {
  return s === undefined ? undefined : parseHexAddr(s, what);
}

export const fail1 = (message: string): Error => Object.assign(new Error(message), { exitCode: 1 });

/** Whether the input starts with the FDT magic (a FIT), rather than a legacy header. */
export async function isFit(ra: RandomAccess): Promise<boolean> {
  if (ra.size < 4) return false;
  const b = await ra.readAt(0, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0) === FDT_MAGIC;
}

/** `uimage pack`'s FIT options (mkimage -f …), parsed with the legacy ones; the FIT code loads only when -f is given. */
export const FIT_OPTIONS = {
  fit: { type: 'string', short: 'f' },
  external: { type: 'boolean', short: 'E' },
  'block-size': { type: 'string', short: 'B' },
  'external-position': { type: 'string', short: 'p' },
  'key-dir': { type: 'string', short: 'k' },
  'key-blob': { type: 'string', short: 'K' },
  'require-keys': { type: 'boolean', short: 'r' },
  dtb: { type: 'string', short: 'b', multiple: true },
  ramdisk: { type: 'string', short: 'i' },
  comment: { type: 'string', short: 'c' },
  algo: { type: 'string', short: 'o' },
} as const;
