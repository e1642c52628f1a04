/**
 * One decompression worker of {@link DecodePool}: answers `{id, raw, max}` with `{id, out}`, and
 * `{id, raw, max, fd, position}` by writing the block there and answering `{id, written}`; `{id}`
 * alone when the block does not decode (the caller then decodes it itself, to report the error).
 * Codecs that can decode synchronously do (gzip needs no stream per block that way).
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { blockCodec, type CodecInit } from './compressor.js';

const { name, options, blockSize } = workerData as CodecInit;
const codec = blockCodec(name, options, blockSize);
const sync = await codec.syncDecompressor();
const port = parentPort!;

const reply = (id: number, out: Uint8Array | undefined) => {
  if (!out) return port.postMessage({ id });
  // an exact-length buffer of its own, so that it can be transferred
  const own = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
  port.postMessage({ id, out: own }, [own.buffer as ArrayBuffer]);
};

/** Writes the block where the caller asked, and says how much; a failed write goes back as the error's fields. */
const write = (id: number, out: Uint8Array | undefined, fd: number, position: number) => {
  if (!out) return port.postMessage({ id });
  try {
    for (let done = 0; done < out.length; ) done += writeSync(fd, out, done, out.length - done, position + done);
    port.postMessage({ id, written: out.length });
  } catch (e) {
    const { message, code, errno, syscall } = e as NodeJS.ErrnoException;
    port.postMessage({ id, io: { message, code, errno, syscall } });
  }
};

port.on('message', (m: { id: number; raw: Uint8Array; max: number; fd?: number; position?: number }) => {
  const done = (out: Uint8Array | undefined) => (m.fd === undefined ? reply(m.id, out) : write(m.id, out, m.fd, m.position!));
  if (sync) {
    let out: Uint8Array | undefined;
    try {
      out = sync(m.raw, m.max, 0);
    } catch {
      out = undefined;
    }
    done(out);
    return;
  }
  codec.decompress(m.raw, m.max, 0).then(done, () => done(undefined));
});
