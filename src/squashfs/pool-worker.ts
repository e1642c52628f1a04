/**
 * One compression worker of {@link CompressPool}: builds the image's block codec once, then
 * answers `{id, block}` with `{id, out, compressed}` (the block itself when compressing does not
 * make it smaller).
 * Buffers travel both ways as transferred ArrayBuffers, so nothing is copied between threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { blockCodec, type CodecInit } from './compressor.js';
import { garbageMeter } from './gc.js';

const { name, options, blockSize } = workerData as CodecInit;
const codec = blockCodec(name, options, blockSize);
const port = parentPort!;
// lzma (id 2) makes a liblzma encoder per block, freed when its stream object is collected
const meter = garbageMeter(name === 'lzma' ? 1 : 8 << 20);

port.on('message', (m: { id: number; block: Uint8Array }) => {
  meter(m.block.length);
  codec.compress(m.block).then(
    (c) => {
      // incompressible: the block goes back as it came. Otherwise an exact-length copy when the
      // codec returned a view into a larger buffer (zlib's pool)
      const out = !c ? m.block : c.byteOffset !== 0 || c.byteLength !== c.buffer.byteLength ? c.slice() : c;
      // the input goes back too, so the writer can reuse its buffer
      port.postMessage({ id: m.id, out, compressed: !!c, block: c ? m.block : undefined }, c ? [out.buffer as ArrayBuffer, m.block.buffer as ArrayBuffer] : [out.buffer as ArrayBuffer]);
    },
    (e: unknown) => port.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) }),
  );
});
