/**
 * FIT (Flattened Image Tree) layout: a device tree blob whose `/images` nodes carry the data and
 * whose `/configurations` nodes say what boots together. Names and rules from U-Boot v2023.01
 * include/image.h, tools/fit_image.c, tools/image-host.c, boot/image-fit.c.
 *
 * ```
 * / {  timestamp                            <- added by mkimage, first root property
 *      description; #address-cells;
 *      images {
 *          kernel-1 {  data | data-size data-offset | data-size data-position
 *                      type arch os compression load entry …
 *                      hash-1 { value; algo; }          <- value added first by mkimage
 *                      signature-1 { …; algo; key-name-hint; } };
 *          …  };
 *      configurations {  default;
 *          conf-1 { kernel; fdt; ramdisk; loadables;
 *                   signature-1 { hashed-strings hashed-nodes timestamp [comment]
 *                                 signer-version signer-name value; algo; key-name-hint; sign-images } }; }; }
 * ```
 *
 * Internal data (`mkimage -f`, 2023.01): totalsize = packed blob + 1024·k, the smallest k ≥ 1 that fits
 * what mkimage adds (it retries from 0 in steps of 1024 below 64 KiB). External data (`-E`): the blob is
 * packed and its totalsize rounded up to the alignment (4, or `-B`); the data of each image follows in
 * node order, each padded to the alignment (the last one too), at the blob's end or at `-p`.
 */

export const FORMAT = 'fit';

/** What mkimage 2023.01 writes as `signer-version` (PLAIN_VERSION) and `creator`. */
export const MKIMAGE_VERSION = '2023.01';

export const FIT_IMAGES_PATH = '/images';
export const FIT_CONFS_PATH = '/configurations';
export const FIT_HASH_NODENAME = 'hash';
export const FIT_SIG_NODENAME = 'signature';
export const FIT_CIPHER_NODENAME = 'cipher';

/** Property names (include/image.h FIT_*_PROP). */
export const P = {
  algo: 'algo',
  value: 'value',
  ignore: 'uboot-ignore',
  keyHint: 'key-name-hint',
  required: 'required',
  data: 'data',
  dataPosition: 'data-position',
  dataOffset: 'data-offset',
  dataSize: 'data-size',
  timestamp: 'timestamp',
  description: 'description',
  arch: 'arch',
  type: 'type',
  os: 'os',
  compression: 'compression',
  entry: 'entry',
  load: 'load',
  kernel: 'kernel',
  ramdisk: 'ramdisk',
  fdt: 'fdt',
  loadables: 'loadables',
  default: 'default',
  firmware: 'firmware',
  fpga: 'fpga',
  signImages: 'sign-images',
  hashedNodes: 'hashed-nodes',
  hashedStrings: 'hashed-strings',
} as const;

/** Properties never covered by a configuration signature (image-host.c fit_config_get_regions exc_prop). */
export const EXCLUDED_FROM_SIGNATURE: readonly string[] = [P.data, P.dataSize, P.dataPosition, P.dataOffset];

/** mkimage's retry step and bound for the free space it adds (fit_handle_file). */
export const SIZE_INC_STEP = 1024;
export const SIZE_INC_MAX = 64 * 1024;

/** Default alignment of external data (fit_extract_data: `bl_len ? bl_len : 4`). */
export const EXTERNAL_ALIGN = 4;

/** fdt_find_regions' FDT_MAX_DEPTH, and the verifier's IMAGE_MAX_HASHED_NODES / region bound. */
export const MAX_REGION_DEPTH = 32;
export const MAX_HASHED_NODES = 100;

/** Signature checksum names (image-sig.c checksum_algos). */
export const SIG_CHECKSUMS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;
export type SigChecksum = (typeof SIG_CHECKSUMS)[number];

/** Signature crypto names with their key size in bits (image-sig.c crypto_algos). */
export const SIG_CRYPTOS: Readonly<Record<string, { kind: 'rsa' | 'ecdsa'; bits: number }>> = {
  rsa2048: { kind: 'rsa', bits: 2048 },
  rsa3072: { kind: 'rsa', bits: 3072 },
  rsa4096: { kind: 'rsa', bits: 4096 },
  ecdsa256: { kind: 'ecdsa', bits: 256 },
  ecdsa384: { kind: 'ecdsa', bits: 384 },
};

/** Splits "sha256,rsa2048" into its checksum and crypto parts; undefined when either is unknown. */
export function parseSigAlgo(algo: string): { checksum: SigChecksum; crypto: string; kind: 'rsa' | 'ecdsa'; bits: number } | undefined {
  const [checksum, crypto, extra] = algo.split(',');
  if (extra !== undefined || !checksum || !crypto) return undefined;
  const c = SIG_CRYPTOS[crypto];
  if (!c || !(SIG_CHECKSUMS as readonly string[]).includes(checksum)) return undefined;
  return { checksum: checksum as SigChecksum, crypto, ...c };
}

/** A big-endian u32 cell. */
export function be32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

/** A NUL-terminated string value (fdt_setprop_string). */
export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** A string-list value from strings (as dtc writes `"a", "b"`): each NUL-terminated, UTF-8. */
export function joinStrings(list: readonly string[]): Uint8Array {
  let text = '';
  for (const x of list) text += `${x}\0`;
  return new TextEncoder().encode(text);
}

/** A string-list value (fdt_stringlist): the NUL-separated strings, latin1, the last one unterminated if so stored. */
export function splitStrings(v: Uint8Array): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0) {
      out.push(cur);
      cur = '';
    } else cur += String.fromCharCode(v[i]!);
  }
  if (cur) out.push(cur);
  return out;
}
