/**
 * The listing `mkimage -l` / `dumpimage -l` print for a legacy image (boot/image.c
 * image_print_contents, genimg_print_size, genimg_print_time; U-Boot v2023.01, host build), and the
 * `--json` form of the same facts.
 */
import { IVT_SIZE, nameBytes, type LegacyHeader } from './layout.js';
import { IH_TYPE_FIRMWARE_IVT, IH_TYPE_MULTI, IH_TYPE_SCRIPT, longNameOf, nameOf } from './tables.js';
import type { LegacyPart } from './legacy-read.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) in UTC: "Tue Nov 14 22:13:20 2023" (no newline). mkimage uses the local zone; run it with TZ=UTC to compare. */
export function ctimeUtc(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * printf("%.2f", n / d) for integers n ≥ 0 and d > 0 whose quotient is exact in binary (d a power
 * of two here): glibc rounds the exact value, ties to even, where Number#toFixed rounds ties up.
 */
export function fixed2(n: number, d: number): string {
  const scaled = n * 100; // < 2^39 for u32 n: exact
  let q = Math.floor(scaled / d);
  const r = scaled - q * d;
  if (2 * r > d || (2 * r === d && q % 2 === 1)) q += 1;
  return `${Math.floor(q / 100)}.${String(q % 100).padStart(2, '0')}`;
}

/** genimg_print_size: the byte count goes through printf "%d", so sizes of 2 GiB and more print negative, as in mkimage. */
export function formatSize(size: number): string {
  const asInt = size >= 2 ** 31 ? size - 2 ** 32 : size;
  return `${asInt} Bytes = ${fixed2(size, 1024)} KiB = ${fixed2(size, 1048576)} MiB`;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/**
 * The listing as bytes: the image name is printed as stored (mkimage's "%.*s"), which need not be
 * UTF-8 when a 32-byte cut split a character. Script offsets ("Offset = 0x…") are mkimage's pointer
 * into its own memory map, which differs from run to run; here they are `base` + the offset in the
 * image, i.e. the address in U-Boot when the image is loaded at `base` (default 0).
 */
export function legacyListingBytes(h: LegacyHeader, parts: readonly LegacyPart[], base = 0): Uint8Array {
  const head = 'Image Name:   ';
  const lines: string[] = [];
  lines.push(`Created:      ${ctimeUtc(h.time)}`);
  lines.push(`Image Type:   ${longNameOf('arch', h.arch)} ${longNameOf('os', h.os)} ${longNameOf('type', h.type)} (${longNameOf('comp', h.comp)})`);
  lines.push(`Data Size:    ${formatSize(h.size)}`);
  lines.push(`Load Address: ${hex8(h.load)}`);
  lines.push(`Entry Point:  ${hex8(h.ep)}`);
  if (h.type === IH_TYPE_MULTI || h.type === IH_TYPE_SCRIPT) {
    lines.push('Contents:');
    parts.forEach((p, i) => {
      lines.push(`   Image ${i}: ${formatSize(p.size)}`);
      if (h.type === IH_TYPE_SCRIPT && i > 0) lines.push(`    Offset = 0x${hex8(base + p.offset)}`);
    });
  } else if (h.type === IH_TYPE_FIRMWARE_IVT) {
    const a = (h.load - 64 + 2 ** 32) % 2 ** 32;
    const b = (((h.size + 64 + IVT_SIZE - 0x2060) % 2 ** 32) + 2 ** 32) % 2 ** 32; // "(int)(…)" printed with %08x
    lines.push(`HAB Blocks:   0x${hex8(a)}   0x0000   0x${hex8(b)}`);
  }
  const enc = new TextEncoder();
  const name = nameBytes(h.name);
  const rest = enc.encode(`\n${lines.join('\n')}\n`);
  const out = new Uint8Array(head.length + name.length + rest.length);
  out.set(enc.encode(head), 0);
  out.set(name, head.length);
  out.set(rest, head.length + name.length);
  return out;
}

/** The listing as text (a name that is not UTF-8 shows U+FFFD). */
export function formatLegacyListing(h: LegacyHeader, parts: readonly LegacyPart[], base = 0): string {
  return new TextDecoder().decode(legacyListingBytes(h, parts, base));
}

/** The header and layout as plain JSON data (`uimage list --json`). */
export function legacyJson(h: LegacyHeader, parts: readonly LegacyPart[], extra: { trailing: number; verified: boolean }) {
  const name = nameBytes(h.name);
  return {
    name: new TextDecoder().decode(name),
    time: h.time,
    created: new Date(h.time * 1000).toISOString(),
    os: { id: h.os, name: nameOf('os', h.os) ?? null },
    arch: { id: h.arch, name: nameOf('arch', h.arch) ?? null },
    type: { id: h.type, name: nameOf('type', h.type) ?? null },
    comp: { id: h.comp, name: nameOf('comp', h.comp) ?? null },
    size: h.size,
    load: h.load,
    ep: h.ep,
    hcrc: h.hcrc,
    dcrc: h.dcrc,
    parts: parts.map((p) => ({ offset: p.offset, size: p.size })),
    trailing: extra.trailing,
    verified: extra.verified,
  };
}
