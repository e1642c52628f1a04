/**
 * LZ4 containers around the block codec in lz4-block.ts.
 *
 * Frame format (lz4/doc/lz4_Frame_format.md), what `lz4` writes by default:
 *
 *   u32le 0x184d2204, FLG, BD, [u64le content size], [u32le dict id], HC = xxh32(FLG…) >> 8 & 0xff
 *   block…: u32le (uncompressed:1 | size:31), data, [u32le xxh32(data)]
 *   u32le 0 (end mark), [u32le xxh32(content)]
 *   skippable frames (u32le 0x184d2a5?, u32le size, data) may sit between frames.
 *
 * Legacy format (`lz4 -l`, the kernel's lib/decompress_unlz4.c), used for Image.lz4 and ramdisks:
 *
 *   u32le 0x184c2102, then blocks of u32le compressed size + one independent LZ4 block that decodes
 *   to at most 8 MiB; the magic may recur (concatenated streams). The kernel's `size_append`
 *   (scripts/Makefile.lib) may add a u32le total size at the very end: it is accepted when it
 *   equals the decoded size, which no truncated block-size word can also do by accident.
 */
import { ByteSource, collect } from '../bytes/source.js';
import { Budget, codecError, guarded } from './pipe.js';
import { compressBound, decodeBlock, encodeBlock, Xxh32, xxh32 } from './lz4-block.js';
import { levelOf, maxOutputOf, type Codec, type EncodeOptions } from './types.js';

const FRAME_MAGIC = 0x184d_2204;
const LEGACY_MAGIC = 0x184c_2102;
const SKIPPABLE = 0x184d_2a50;
const LEGACY_BLOCK = 8 * 2 ** 20;
const WINDOW = 64 * 1024;
const BLOCK_SIZE_IDS: Readonly<Record<number, number>> = { 65_536: 4, 262_144: 5, 1_048_576: 6, 4_194_304: 7 };
/** One input byte decodes to at most 255 output bytes (a 255 length-extension byte); +64 covers the token. */
const expansionBound = (n: number): number => n * 255 + 64;

const u32 = (b: Uint8Array, i = 0): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
const le32 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);

/** Match-finder depth for a level: 0 is the fast greedy parser; HC searches 2^(level-1) candidates. */
function depthOf(opts: EncodeOptions | undefined): number {
  const level = levelOf(opts, 1, 12, 1);
  return level < 3 && !opts?.lz4?.hc ? 0 : 2 ** (Math.max(level, 3) - 1);
}

/** Decodes one compressed block into a fresh buffer after `hist` (the previous output a linked block may reference). */
function unpackBlock(format: string, data: Uint8Array, hist: Uint8Array, blockMax: number, budget: Budget, at: number): Uint8Array {
  const room = Math.min(blockMax, budget.left, expansionBound(data.length));
  const buf = new Uint8Array(hist.length + room);
  buf.set(hist, 0);
  const end = decodeBlock(data, 0, data.length, buf, hist.length, buf.length, 0, format, at + 4);
  if (end < 0) {
    if (budget.left < Math.min(blockMax, expansionBound(data.length))) throw budget.error(at);
    throw codecError(format, 'BAD_FIELD', at, `Cannot decode lz4 block: it decodes to more than ${blockMax} bytes`);
  }
  const out = buf.subarray(hist.length, end);
  budget.take(out.length, at);
  return out;
}

async function* decodeFrames(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, budget: Budget): AsyncGenerator<Uint8Array> {
  const src = new ByteSource(chunks, 'lz4');
  do {
    const start = src.position;
    const magic = u32(await src.read(4, 'frame magic'));
    if ((magic & 0xffff_fff0) >>> 0 === SKIPPABLE) {
      await src.skip(u32(await src.read(4, 'skippable frame size')), 'skippable frame');
      continue;
    }
    if (magic !== FRAME_MAGIC) throw codecError('lz4', 'BAD_MAGIC', start, `Cannot parse lz4 frame: magic 0x${magic.toString(16)} is not 0x184d2204`);
    yield* decodeFrame(src, budget);
  } while (!(await src.atEnd()));
}

async function* decodeFrame(src: ByteSource, budget: Budget): AsyncGenerator<Uint8Array> {
  const descAt = src.position;
  const head = await src.read(2, 'frame descriptor');
  const flg = head[0]!;
  const bd = head[1]!;
  if (flg >> 6 !== 1) throw codecError('lz4', 'UNSUPPORTED', descAt, `Cannot parse lz4 frame descriptor: version ${flg >> 6} is not 1`);
  if (flg & 0x02 || bd & 0x8f) throw codecError('lz4', 'BAD_FIELD', descAt, 'Cannot parse lz4 frame descriptor: reserved bits are set');
  const sizeId = (bd >> 4) & 7;
  if (sizeId < 4) throw codecError('lz4', 'BAD_FIELD', descAt + 1, `Cannot parse lz4 frame descriptor: block size id ${sizeId} is not 4..7`);
  const blockMax = 2 ** (8 + 2 * sizeId);
  const [linked, blockSum, hasSize, contentSum, hasDict] = [!(flg & 0x20), !!(flg & 0x10), !!(flg & 0x08), !!(flg & 0x04), !!(flg & 0x01)];
  const rest = await src.read((hasSize ? 8 : 0) + (hasDict ? 4 : 0) + 1, 'frame descriptor');
  const desc = new Uint8Array(2 + rest.length - 1);
  desc.set(head, 0);
  desc.set(rest.subarray(0, rest.length - 1), 2);
  if (((xxh32(desc) >>> 8) & 0xff) !== rest[rest.length - 1])
    throw codecError('lz4', 'BAD_CHECKSUM', src.position - 1, 'Cannot parse lz4 frame descriptor: header checksum does not match');
  if (hasDict) throw codecError('lz4', 'UNSUPPORTED', descAt + 2 + (hasSize ? 8 : 0), 'Cannot decode lz4 frame: it needs a dictionary');
  let contentSize: number | undefined;
  if (hasSize) {
    contentSize = u32(rest, 4) * 2 ** 32 + u32(rest, 0);
    if (contentSize > budget.left) throw budget.error(descAt + 2);
  }
  const hash = contentSum ? new Xxh32() : undefined;
  let hist: Uint8Array = new Uint8Array(0);
  let total = 0;
  for (;;) {
    const at = src.position;
    const word = u32(await src.read(4, 'block size'));
    if (word === 0) break;
    const size = word % 2 ** 31;
    if (size > blockMax) throw codecError('lz4', 'BAD_FIELD', at, `Cannot parse lz4 block: size ${size} exceeds ${blockMax}`);
    const data = await src.read(size, 'block');
    if (blockSum && xxh32(data) !== u32(await src.read(4, 'block checksum')))
      throw codecError('lz4', 'BAD_CHECKSUM', src.position - 4, 'Cannot decode lz4 block: block checksum does not match');
    let out: Uint8Array;
    if (word >= 2 ** 31) {
      budget.take(size, at);
      out = data;
    } else out = unpackBlock('lz4', data, hist, blockMax, budget, at);
    hash?.update(out);
    total += out.length;
    if (linked) hist = out.length >= WINDOW ? out.subarray(out.length - WINDOW) : keepTail(hist, out);
    yield out;
  }
  if (hash && hash.digest() !== u32(await src.read(4, 'content checksum')))
    throw codecError('lz4', 'BAD_CHECKSUM', src.position - 4, 'Cannot decode lz4 frame: content checksum does not match');
  if (contentSize !== undefined && total !== contentSize)
    throw codecError('lz4', 'BAD_FIELD', src.position, `Cannot decode lz4 frame: ${total} bytes, header says ${contentSize}`);
}

/** The last 64 KiB of `hist` followed by `out`. */
function keepTail(hist: Uint8Array, out: Uint8Array): Uint8Array {
  const keep = Math.min(hist.length, WINDOW - out.length);
  const next = new Uint8Array(keep + out.length);
  next.set(hist.subarray(hist.length - keep), 0);
  next.set(out, keep);
  return next;
}

async function* decodeLegacy(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, budget: Budget): AsyncGenerator<Uint8Array> {
  const src = new ByteSource(chunks, 'lz4-legacy');
  const magic = u32(await src.read(4, 'magic'));
  if (magic !== LEGACY_MAGIC) throw codecError('lz4-legacy', 'BAD_MAGIC', 0, `Cannot parse lz4 legacy stream: magic 0x${magic.toString(16)} is not 0x184c2102`);
  let total = 0;
  while (!(await src.atEnd())) {
    const at = src.position;
    const word = u32(await src.read(4, 'block size'));
    if (word === LEGACY_MAGIC) continue;
    if (word === total % 2 ** 32 && (await src.atEnd())) break; // size_append trailer
    if (word > compressBound(LEGACY_BLOCK))
      throw codecError('lz4-legacy', 'BAD_FIELD', at, `Cannot parse lz4 legacy block: size ${word} exceeds ${compressBound(LEGACY_BLOCK)}`);
    const out = unpackBlock('lz4-legacy', await src.read(word, 'block'), new Uint8Array(0), LEGACY_BLOCK, budget, at);
    total += out.length;
    yield out;
  }
}

/** Cuts `input` into blocks of at most `size` bytes, without copying. */
async function* blocksOf(input: AsyncIterable<Uint8Array> | Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  if (input instanceof Uint8Array) {
    for (let at = 0; at < input.length; at += size) yield input.subarray(at, at + size);
    return;
  }
  const src = new ByteSource(input, 'lz4');
  for (let b = await src.readUpTo(size); b.length > 0; b = await src.readUpTo(size)) yield b;
}

/** Compresses one block into a fresh buffer (the caller stores it raw in a frame if it did not shrink). */
function packBlock(block: Uint8Array, depth: number, scratch: Uint8Array): Uint8Array {
  const end = encodeBlock(block, 0, block.length, scratch, 0, depth);
  return scratch.slice(0, end);
}

async function* encodeFrame(input: AsyncIterable<Uint8Array> | Uint8Array, opts: EncodeOptions | undefined): AsyncGenerator<Uint8Array> {
  const depth = depthOf(opts);
  const o = opts?.lz4;
  const blockMax = o?.blockSize ?? 4 * 2 ** 20;
  const sizeId = BLOCK_SIZE_IDS[blockMax];
  if (sizeId === undefined) throw new RangeError(`Cannot encode: lz4 blockSize ${String(blockMax)} is not 64 KiB, 256 KiB, 1 MiB or 4 MiB`);
  const contentSize = input instanceof Uint8Array && o?.contentSize !== false ? input.length : undefined;
  const blockSum = o?.blockChecksum ?? false;
  const contentSum = o?.contentChecksum ?? true;
  const desc = new Uint8Array(contentSize === undefined ? 2 : 10);
  desc[0] = 0x40 | 0x20 | (blockSum ? 0x10 : 0) | (contentSize !== undefined ? 0x08 : 0) | (contentSum ? 0x04 : 0);
  desc[1] = sizeId << 4;
  if (contentSize !== undefined) {
    desc.set(le32(contentSize % 2 ** 32), 2);
    desc.set(le32(Math.floor(contentSize / 2 ** 32)), 6);
  }
  yield Uint8Array.of(...le32(FRAME_MAGIC), ...desc, (xxh32(desc) >>> 8) & 0xff);
  const hash = new Xxh32();
  const scratch = new Uint8Array(compressBound(blockMax));
  for await (const block of blocksOf(input, blockMax)) {
    if (contentSum) hash.update(block);
    const packed = packBlock(block, depth, scratch);
    const raw = packed.length >= block.length;
    const data = raw ? block.slice() : packed;
    yield le32(raw ? data.length + 2 ** 31 : data.length);
    yield data;
    if (blockSum) yield le32(xxh32(data));
  }
  yield le32(0);
  if (contentSum) yield le32(hash.digest());
}

async function* encodeLegacy(input: AsyncIterable<Uint8Array> | Uint8Array, opts: EncodeOptions | undefined): AsyncGenerator<Uint8Array> {
  const depth = depthOf(opts);
  const scratch = new Uint8Array(compressBound(LEGACY_BLOCK));
  yield le32(LEGACY_MAGIC);
  for await (const block of blocksOf(input, LEGACY_BLOCK)) {
    const packed = packBlock(block, depth, scratch);
    yield le32(packed.length);
    yield packed;
  }
}

/** LZ4 frame format. Decoded chunks may alias the input (stored blocks are passed through). */
export const lz4: Codec = {
  id: 'lz4',
  async decode(input, opts) {
    return collect(guarded('lz4', (c) => decodeFrames(c, new Budget('lz4', maxOutputOf(opts))), [input]));
  },
  async encode(input, opts) {
    return collect(encodeFrame(input, opts));
  },
  decodeStream(chunks, opts) {
    const budget = new Budget('lz4', maxOutputOf(opts));
    return guarded('lz4', (c) => decodeFrames(c, budget), chunks);
  },
  encodeStream(chunks, opts) {
    return encodeFrame(chunks, opts);
  },
};

/** LZ4 legacy format (`lz4 -l`), as the Linux kernel reads it. */
export const lz4Legacy: Codec = {
  id: 'lz4-legacy',
  async decode(input, opts) {
    return collect(guarded('lz4-legacy', (c) => decodeLegacy(c, new Budget('lz4-legacy', maxOutputOf(opts))), [input]));
  },
  async encode(input, opts) {
    return collect(encodeLegacy(input, opts));
  },
  decodeStream(chunks, opts) {
    const budget = new Budget('lz4-legacy', maxOutputOf(opts));
    return guarded('lz4-legacy', (c) => decodeLegacy(c, budget), chunks);
  },
  encodeStream(chunks, opts) {
    return encodeLegacy(chunks, opts);
  },
};
