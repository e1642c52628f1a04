/** Human-readable listings of an image, in the style of AOSP unpack_bootimg's info output, and its rebuild arguments. */
import { payloadSize, type Payload } from '../bytes/payload.js';
import { unpackOsVersion } from './layout.js';
import type { AndroidImage } from './model.js';
import type { BlobInfo, ImageReport } from './inspect.js';

const h = (n: number, w = 8) => '0x' + n.toString(16).padStart(w, '0');
const latin = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** A NUL-terminated field as text (cut at the first NUL, as C and unpack_bootimg's cstr() do). */
export function cstr(b: Uint8Array): string {
  const n = b.indexOf(0);
  const t = n < 0 ? b : b.subarray(0, n);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(t);
  } catch {
    return latin.decode(t);
  }
}

function os(field: number): [string, string] {
  const { version, patch } = unpackOsVersion(field);
  return [version ? version.join('.') : 'none', patch ? `${patch[0]}-${String(patch[1]).padStart(2, '0')}` : 'none'];
}

function blobLine(name: string, b: BlobInfo | undefined): string[] {
  if (!b) return [];
  const parts = [b.compression ?? 'uncompressed'];
  if (b.mtk) parts.push(`MTK header "${b.mtk.label}" (${b.mtk.size} bytes)`);
  if (b.zImage) parts.push(`ARM zImage (${b.zImage.size} bytes)`);
  if (b.appendedDtbs) parts.push(`${b.appendedDtbs.length} appended DTB${b.appendedDtbs.length > 1 ? 's' : ''} at ${b.appendedDtbs.map((d) => h(d.offset, 0)).join(', ')}`);
  return [`${name}: ${parts.join(', ')}`];
}

export function formatInfo(img: AndroidImage<Payload>, r: ImageReport | undefined, fileSize: number): string {
  const L: string[] = [];
  if (img.kind === 'boot') {
    const v = img.headerVersion;
    const [ver, patch] = os(img.osVersion);
    L.push(`boot magic: ANDROID!`);
    L.push(`image type: ${v >= 3 && payloadSize(img.kernel) === 0 ? 'init_boot' : 'boot'}`);
    L.push(`boot image header version: ${v}${payloadSize(img.dt) ? ` (legacy dt.img of ${payloadSize(img.dt)} bytes in the version word)` : ''}`);
    L.push(`page size: ${img.pageSize}`);
    L.push(`kernel size: ${payloadSize(img.kernel)}`);
    if (v <= 2) L.push(`kernel load address: ${h(img.kernelAddr)}`);
    L.push(`ramdisk size: ${payloadSize(img.ramdisk)}`);
    if (v <= 2) {
      L.push(`ramdisk load address: ${h(img.ramdiskAddr)}`);
      L.push(`second bootloader size: ${payloadSize(img.second)}`);
      L.push(`second bootloader load address: ${h(img.secondAddr)}`);
      L.push(`kernel tags load address: ${h(img.tagsAddr)}`);
      if (payloadSize(img.dt)) L.push(`dt size: ${payloadSize(img.dt)}`);
    }
    L.push(`os version: ${ver}`);
    L.push(`os patch level: ${patch}`);
    if (v <= 2) L.push(`product name: ${cstr(img.name)}`);
    L.push(`command line args: ${cstr(img.cmdline)}`);
    if (v <= 2) L.push(`additional command line args: ${cstr(img.extraCmdline)}`);
    if (v >= 1 && v <= 2) {
      L.push(`recovery dtbo size: ${payloadSize(img.recoveryDtbo)}`);
      L.push(`recovery dtbo offset: ${h(img.recoveryDtboOffset ?? 0, 16)}`);
    }
    if (v >= 1) L.push(`boot header size: ${img.headerSize ?? ''}`);
    if (v === 2) {
      L.push(`dtb size: ${payloadSize(img.dtb)}`);
      L.push(`dtb address: ${h(img.dtbAddr, 16)}`);
    }
    if (v === 4) L.push(`boot.img signature size: ${payloadSize(img.signature)}`);
    if (v <= 2 && img.id instanceof Uint8Array)
      L.push(`id: 0x${Buffer.from(img.id).toString('hex')}${r?.id ? ` (${r.id === 'mismatch' ? 'does not match the content' : r.id === 'zero' ? 'not set' : `matches the content, ${r.id}`})` : ''}`);
    if (r) L.push(...blobLine('kernel', r.kernel), ...blobLine('ramdisk', r.ramdisk));
  } else {
    L.push(`boot magic: VNDRBOOT`);
    L.push(`vendor boot image header version: ${img.headerVersion}`);
    L.push(`page size: ${h(img.pageSize)}`);
    L.push(`kernel load address: ${h(img.kernelAddr)}`);
    L.push(`ramdisk load address: ${h(img.ramdiskAddr)}`);
    L.push(`vendor ramdisk total size: ${img.ramdisks.reduce((n, x) => n + payloadSize(x.data), 0)}`);
    L.push(`vendor command line args: ${cstr(img.cmdline)}`);
    L.push(`kernel tags load address: ${h(img.tagsAddr)}`);
    L.push(`product name: ${cstr(img.name)}`);
    L.push(`vendor boot image header size: ${img.headerSize ?? ''}`);
    L.push(`dtb size: ${payloadSize(img.dtb)}`);
    L.push(`dtb address: ${h(img.dtbAddr, 16)}`);
    if (img.headerVersion === 4) {
      L.push(`vendor ramdisk table: [`);
      img.ramdisks.forEach((x, i) => {
        L.push(`    vendor_ramdisk${String(i).padStart(2, '0')}: {`);
        L.push(`        size: ${payloadSize(x.data)}`);
        L.push(`        type: ${h(x.type, 0)}`);
        L.push(`        name: ${cstr(x.name)}`);
        L.push(`        board_id: [${x.boardId.map((b) => h(b)).join(', ')}]`);
        const c = r?.vendorRamdisks?.[i];
        if (c) L.push(`        compression: ${c.compression ?? 'uncompressed'}`);
        L.push(`    }`);
      });
      L.push(`]`);
      L.push(`vendor bootconfig size: ${payloadSize(img.bootconfig)}`);
    } else if (r?.vendorRamdisks?.[0]) L.push(...blobLine('vendor ramdisk', r.vendorRamdisks[0]));
  }
  L.push(`file size: ${fileSize}`);
  if (r) {
    const t = r.tail;
    const bits = [];
    if (t.seandroidEnforce) bits.push('SEANDROIDENFORCE');
    if (t.avbFooter) bits.push(`AVB footer v${t.avbFooter.major}.${t.avbFooter.minor} (image ${t.avbFooter.originalImageSize} bytes, vbmeta ${t.avbFooter.vbmetaSize} bytes at ${h(t.avbFooter.vbmetaOffset, 0)})`);
    L.push(`trailing data: ${t.size} bytes${bits.length ? ': ' + bits.join(', ') : ''}`);
  }
  if (img.finalPadding !== undefined) L.push(`note: the file ends inside the last section's padding (${img.finalPadding} padding bytes present)`);
  return L.join('\n') + '\n';
}

/** Python shlex.quote: what AOSP unpack_bootimg --format=mkbootimg uses. */
export function shellQuote(s: string): string {
  if (s === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return "'" + s.replaceAll("'", `'"'"'`) + "'";
}

/** The mkbootimg arguments that rebuild the image from an unpacked folder, as AOSP unpack_bootimg --format=mkbootimg prints them. */
export function mkbootimgArgs(img: AndroidImage<Payload>, dir: string): string[] {
  const p = (f: string) => (dir.endsWith('/') ? dir + f : `${dir}/${f}`);
  const text = (b: Uint8Array) => utf8.decode(b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)));
  const a: string[] = ['--header_version', String(img.headerVersion)];
  if (img.kind === 'boot') {
    const { version, patch } = unpackOsVersion(img.osVersion);
    if (version) a.push('--os_version', version.join('.'));
    if (patch) a.push('--os_patch_level', `${patch[0]}-${String(patch[1]).padStart(2, '0')}`);
    a.push('--kernel', p('kernel'), '--ramdisk', p('ramdisk'));
    if (img.headerVersion <= 2) {
      if (payloadSize(img.second)) a.push('--second', p('second'));
      if (payloadSize(img.dt)) a.push('--dt', p('dt'));
      if (payloadSize(img.recoveryDtbo)) a.push('--recovery_dtbo', p('recovery_dtbo'));
      if (payloadSize(img.dtb)) a.push('--dtb', p('dtb'));
      a.push('--pagesize', h(img.pageSize), '--base', h(0), '--kernel_offset', h(img.kernelAddr), '--ramdisk_offset', h(img.ramdiskAddr));
      a.push('--second_offset', h(img.secondAddr), '--tags_offset', h(img.tagsAddr));
      if (img.headerVersion === 2) a.push('--dtb_offset', h(img.dtbAddr, 16));
      a.push('--board', text(img.name), '--cmdline', text(img.cmdline) + text(img.extraCmdline));
    } else a.push('--cmdline', text(img.cmdline));
    return a;
  }
  a.push('--pagesize', h(img.pageSize), '--base', h(0), '--kernel_offset', h(img.kernelAddr), '--ramdisk_offset', h(img.ramdiskAddr));
  a.push('--tags_offset', h(img.tagsAddr), '--dtb_offset', h(img.dtbAddr, 16), '--vendor_cmdline', text(img.cmdline), '--board', text(img.name));
  if (payloadSize(img.dtb)) a.push('--dtb', p('dtb'));
  if (img.headerVersion > 3) {
    if (payloadSize(img.bootconfig)) a.push('--vendor_bootconfig', p('bootconfig'));
    img.ramdisks.forEach((r, i) => {
      a.push('--ramdisk_type', String(r.type), '--ramdisk_name', text(r.name));
      r.boardId.forEach((b, k) => b && a.push(`--board_id${k}`, h(b)));
      a.push('--vendor_ramdisk_fragment', p(`vendor_ramdisk${String(i).padStart(2, '0')}`));
    });
  } else a.push('--vendor_ramdisk', p('vendor_ramdisk'));
  return a;
}
