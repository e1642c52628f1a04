/**
 * The hash algorithms of FIT `hash-*` nodes (common/hash.c `hash_algo[]`, host build of U-Boot
 * v2023.01): crc16-ccitt and crc32 stored as big-endian integers, the others as digests. Every hash
 * is computed over chunks, so image data never has to be in memory at once.
 */
import { createHash } from 'node:crypto';
import { crc32 } from '../bytes/crc32.js';
import { payloadChunks, type Payload } from '../bytes/payload.js';

export interface FitHasher {
  update(chunk: Uint8Array): void;
  digest(): Uint8Array;
}

/** Digest length of each algorithm mkimage accepts in a hash node. */
export const HASH_ALGOS: Readonly<Record<string, number>> = {
  'crc16-ccitt': 2,
  crc32: 4,
  md5: 16,
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** CRC-16/XMODEM (U-Boot lib/crc16-ccitt.c crc16_ccitt with initial value 0). */
function crc16Ccitt(crc: number, b: Uint8Array): number {
  for (const x of b) {
    crc ^= x << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** A hasher for `algo`, or undefined when mkimage would not know it either. */
export function fitHasher(algo: string): FitHasher | undefined {
  switch (algo) {
    case 'crc32': {
      let c = 0;
      return {
        update: (b) => void (c = crc32(b, c)),
        digest: () => {
          const out = new Uint8Array(4);
          new DataView(out.buffer).setUint32(0, c >>> 0);
          return out;
        },
      };
    }
    case 'crc16-ccitt': {
      let c = 0;
      return { update: (b) => void (c = crc16Ccitt(c, b)), digest: () => new Uint8Array([c >> 8, c & 0xff]) };
    }
    case 'md5': case 'sha1': case 'sha256': case 'sha384': case 'sha512': {
      const h = createHash(algo);
      return { update: (b) => void h.update(b), digest: () => new Uint8Array(h.digest()) };
    }
    default:
      return undefined;
  }
}

/** Several hashes of one payload in a single pass over its chunks. */
export async function hashPayload(p: Payload, algos: readonly string[]): Promise<Map<string, Uint8Array>> {
  const hs = algos.map((a) => {
    const h = fitHasher(a);
    if (!h) throw new RangeError(`Unsupported hash algorithm ${JSON.stringify(a)}`);
    return [a, h] as const;
  });
  if (hs.length) for await (const c of payloadChunks(p)) for (const [, h] of hs) h.update(c);
  return new Map(hs.map(([a, h]) => [a, h.digest()]));
}

/** One hash of bytes in memory; undefined for an unknown algorithm. */
export function hashBytes(algo: string, data: Uint8Array): Uint8Array | undefined {
  const h = fitHasher(algo);
  if (!h) return undefined;
  h.update(data);
  return h.digest();
}
