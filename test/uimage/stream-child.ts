/**
 * Child process of stream.test.ts: packs a large file into a uImage and verifies it, then prints
 * peak memory as JSON. Run as: node --import tsx stream-child.ts IN OUT
 */
import { filePayload } from '../../src/bytes/payload.js';
import { fileAccess } from '../../src/bytes/random.js';
import { withOutputFile } from '../../src/bytes/sink.js';
import { openLegacyImage, writeLegacyImage } from '../../src/uimage/index.js';

const [input, output] = process.argv.slice(2) as [string, string];
let peakRss = 0;
let peakBuffers = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
};
const timer = setInterval(sample, 5);

const header = await withOutputFile(output, async (sink) =>
  writeLegacyImage(sink, { os: 5, arch: 2, type: 3, comp: 0, load: 0x48000000, ep: 0x48000000, time: 315532800, name: 'big ramdisk', parts: [await filePayload(input)] }),
);
sample();
const ra = await fileAccess(output, 'uimage');
const img = await openLegacyImage(ra); // reads all the data for the CRC
let extracted = 0;
for await (const c of img.part(0).chunks()) extracted += c.length; // the extract path, to a counting sink
await ra.close?.();
sample();
clearInterval(timer);
process.stdout.write(JSON.stringify({ size: header.size, dcrc: header.dcrc, extracted, peakRss, peakBuffers, maxRssKiB: process.resourceUsage().maxRSS }) + '\n');
