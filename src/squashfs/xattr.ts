/**
 * Xattr table. Key/value records live in metadata blocks from the kv start:
 *
 *   entry  u16 type (prefix id: 0 user. 1 trusted. 2 security.; 0x100 = value out of line), u16 size, u8 name[size] (no prefix)
 *   value  u32 vsize, u8 value[vsize]; out of line: vsize = 8 and a u64 reference to another value record
 *
 * Per-inode sets are found through the xattr id table: 16-byte {u64 ref, u32 count, u32 size}.
 * xattr_id_table_start points at {u64 kv_start, u32 ids, u32 unused}, followed by the u64 index.
 */
import { ByteCursor } from '../bytes/cursor.js';
import { FormatError } from '../bytes/errors.js';
import type { MetaReader } from './meta.js';
import type { MetaWriter } from './meta.js';
import { FORMAT, refFromNumber, refToNumber, XATTR_PREFIXES, XATTR_VALUE_OOL, type MetaRef } from './layout.js';
import type { LookupTable } from './table.js';

/** Linux XATTR_SIZE_MAX: the largest value a file system can hold. */
const XATTR_SIZE_MAX = 65_536;
/** Bound on one inode's xattrs, so shared out-of-line values cannot multiply into gigabytes. */
const XATTR_SET_MAX = 16 * 2 ** 20;

export interface Xattr {
  /** Full name, prefix included ("user.comment"). */
  readonly name: string;
  readonly value: Uint8Array;
}

/** Reads the xattr set `id`. `kvStart`/`kvEnd` bound the key/value metadata. */
export async function readXattrs(meta: MetaReader, ids: LookupTable, kvStart: number, kvEnd: number, id: number): Promise<Xattr[]> {
  const e = await ids.entry(id);
  const ref = refFromNumber(e.u64le('xattr ref'));
  const count = e.u32le('xattr count');
  e.u32le('xattr size');
  if (count > 65_536) throw new FormatError(FORMAT, 'LIMIT', e.offset, `Cannot read xattrs: ${count} pairs in one set`);
  const out: Xattr[] = [];
  let total = 0;
  let at: MetaRef = ref;
  const take = async (n: number, what: string) => {
    const r = await meta.readSpan(kvStart, kvEnd, at, n, what);
    const c = new ByteCursor(r.bytes, FORMAT, kvStart + at.block);
    at = r.end;
    return c;
  };
  for (let i = 0; i < count; i++) {
    const h = await take(4, 'xattr entry');
    const type = h.u16le(), size = h.u16le();
    const prefix = XATTR_PREFIXES[type & 0xff];
    if (prefix === undefined || (type & ~(0xff | XATTR_VALUE_OOL)) !== 0)
      throw new FormatError(FORMAT, 'BAD_FIELD', h.base, `Cannot parse xattr entry: type 0x${type.toString(16)} is unknown`);
    const name = prefix + new TextDecoder().decode((await take(size, 'xattr name')).bytes);
    const vsize = (await take(4, 'xattr value size')).u32le();
    let value: Uint8Array;
    if (type & XATTR_VALUE_OOL) {
      if (vsize !== 8) throw new FormatError(FORMAT, 'BAD_FIELD', h.base, `Cannot parse xattr entry: out-of-line reference has size ${vsize}`);
      const vref = refFromNumber((await take(8, 'xattr value reference')).u64le());
      const r = await meta.readSpan(kvStart, kvEnd, vref, 4, 'xattr value size');
      const n = new ByteCursor(r.bytes, FORMAT, kvStart + vref.block).u32le();
      if (n > XATTR_SIZE_MAX) throw new FormatError(FORMAT, 'LIMIT', kvStart + vref.block, `Cannot read xattr value: ${n} bytes exceed ${XATTR_SIZE_MAX}`);
      value = (await meta.read(kvStart, kvEnd, r.end, n, 'xattr value')).slice();
    } else {
      if (vsize > XATTR_SIZE_MAX) throw new FormatError(FORMAT, 'LIMIT', h.base, `Cannot read xattr value: ${vsize} bytes exceed ${XATTR_SIZE_MAX}`);
      value = (await take(vsize, 'xattr value')).bytes.slice();
    }
    total += value.length + name.length;
    if (total > XATTR_SET_MAX) throw new FormatError(FORMAT, 'LIMIT', h.base, `Cannot read xattrs: one set holds more than ${XATTR_SET_MAX} bytes`);
    out.push({ name, value });
  }
  return out;
}

/** Splits "user.x" into its prefix id and the rest; undefined for namespaces squashfs cannot store. */
export function splitXattrName(full: string): { type: number; name: Uint8Array } | undefined {
  const i = XATTR_PREFIXES.findIndex((p) => full.startsWith(p));
  if (i < 0 || full.length === XATTR_PREFIXES[i]!.length) return undefined;
  return { type: i, name: new TextEncoder().encode(full.slice(XATTR_PREFIXES[i]!.length)) };
}

/** mksquashfs xattr.c: values above 128 bytes go out of line, shrinking until a set fits 64 KiB. */
const XATTR_INLINE_MAX = 128;
const XATTR_TARGET_MAX = 65_536;
const XATTR_VALUE_OOL_SIZE = 8;

/**
 * Writes xattr sets as mksquashfs 4.5's generate_xattrs() does: identical sets share an id; values
 * of 8 bytes or more that repeat an earlier value become out-of-line references to it.
 */
export class XattrWriter {
  readonly #sets = new Map<string, number>();
  readonly #values = new Map<string, number>();
  /** Id table entries: ref, count, size. */
  readonly ids: { ref: number; count: number; size: number }[] = [];
  constructor(readonly kv: MetaWriter) {}

  /** The id of this set (added on first use); undefined for an empty set. */
  async add(set: readonly Xattr[]): Promise<number | undefined> {
    const items = set.flatMap((x) => {
      const s = splitXattrName(x.name);
      return s ? [{ ...s, full: x.name, value: x.value }] : [];
    });
    if (items.length === 0) return undefined;
    const key = items.map((x) => `${x.full}\0${Buffer.from(x.value).toString('base64')}`).join('\0');
    const known = this.#sets.get(key);
    if (known !== undefined) return known;

    let max = XATTR_INLINE_MAX;
    let ool: boolean[];
    for (;;) {
      ool = items.map((x) => x.value.length > max);
      const total = items.reduce((n, x, i) => n + 4 + x.name.length + 4 + (ool[i] ? 8 : x.value.length), 0);
      if (total <= XATTR_TARGET_MAX || max === XATTR_VALUE_OOL_SIZE) break;
      max = Math.max(XATTR_VALUE_OOL_SIZE, Math.floor(max / 2));
    }
    const vkeys = items.map((x) => Buffer.from(x.value).toString('latin1'));
    const dupl = items.map((x, i) => (x.value.length >= XATTR_VALUE_OOL_SIZE ? this.#values.get(vkeys[i]!) : undefined));
    const fresh = new Set<number>();
    items.forEach((x, i) => {
      if (x.value.length >= XATTR_VALUE_OOL_SIZE && dupl[i] === undefined && !this.#values.has(vkeys[i]!)) {
        this.#values.set(vkeys[i]!, -1); // placeholder until its position is known
        fresh.add(i);
      }
    });
    const where: number[] = [];
    for (let i = 0; i < items.length; i++) {
      if (ool[i] && dupl[i] === undefined) {
        const r = refToNumber(await this.kv.ref());
        where[i] = r;
        if (fresh.has(i)) this.#values.set(vkeys[i]!, r);
        await this.kv.append(valueRecord(items[i]!.value));
      }
    }
    const start = refToNumber(await this.kv.ref());
    let size = 0;
    for (let i = 0; i < items.length; i++) {
      const x = items[i]!;
      const target = dupl[i] ?? where[i];
      const outOfLine = target !== undefined;
      const head = new Uint8Array(4 + x.name.length);
      const dv = new DataView(head.buffer);
      dv.setUint16(0, x.type | (outOfLine ? XATTR_VALUE_OOL : 0), true);
      dv.setUint16(2, x.name.length, true);
      head.set(x.name, 4);
      await this.kv.append(head);
      if (outOfLine) {
        const v = new Uint8Array(12);
        const vdv = new DataView(v.buffer);
        vdv.setUint32(0, 8, true);
        vdv.setUint32(4, target % 0x1_0000_0000, true);
        vdv.setUint32(8, Math.floor(target / 0x1_0000_0000), true);
        await this.kv.append(v);
      } else {
        const r = refToNumber(await this.kv.ref());
        if (fresh.has(i)) this.#values.set(vkeys[i]!, r);
        await this.kv.append(valueRecord(x.value));
      }
      size += x.full.length + 1 + x.value.length;
    }
    const id = this.ids.length;
    this.ids.push({ ref: start, count: items.length, size });
    this.#sets.set(key, id);
    return id;
  }

  encodeIds(): Uint8Array {
    const out = new Uint8Array(this.ids.length * 16);
    const dv = new DataView(out.buffer);
    this.ids.forEach((e, i) => {
      dv.setUint32(i * 16, e.ref % 0x1_0000_0000, true);
      dv.setUint32(i * 16 + 4, Math.floor(e.ref / 0x1_0000_0000), true);
      dv.setUint32(i * 16 + 8, e.count, true);
      dv.setUint32(i * 16 + 12, e.size, true);
    });
    return out;
  }
}

function valueRecord(value: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + value.length);
  new DataView(out.buffer).setUint32(0, value.length, true);
  out.set(value, 4);
  return out;
}
