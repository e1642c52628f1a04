/** The device tree part of `imgkit demo`: compiles samples/dtb/router.dts (cpp + dtc, in TypeScript). */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../bytes/sink.js';
import { decodeFdt } from '../dtb/read.js';
import { encodeFdt } from '../dtb/write.js';
import { compileDts } from '../dtb/dts/compile.js';
import { fileAccessFor } from '../dtb/dts/files.js';
import { preprocess } from '../dtb/cpp.js';
import { formatDts } from '../dtb/text.js';

/**
 * Compiles the bundled sample device tree into `out`: router.dtb (as `cpp … | dtc -O dtb -b 0`) and
 * router.dtb.dts (its decompiled source). Returns what was written with a short listing.
 */
export async function buildSamples(out: string, samples: string): Promise<{ path: string; what: string; listing: string }[]> {
  const dir = join(samples, 'dtb');
  const src = join(dir, 'router.dts');
  const text = preprocess(src, { includeDirs: [join(dir, 'include')], defines: ['__DTS__'] });
  const fdt = compileDts({ name: src, text }, { bootCpuid: 0, ...fileAccessFor([dir]) });
  const dtb = encodeFdt(fdt);
  await mkdir(out, { recursive: true });
  const dtbPath = join(out, 'router.dtb');
  const dtsPath = join(out, 'router.dtb.dts');
  await writeFileAtomic(dtbPath, dtb);
  const dts = formatDts(decodeFdt(dtb));
  await writeFileAtomic(dtsPath, new TextEncoder().encode(dts));
  const nodes = (n: typeof fdt.root): number => 1 + n.children.reduce((s, c) => s + nodes(c), 0);
  return [
    {
      path: dtbPath,
      what: 'Device tree blob compiled from samples/dtb/router.dts with imgkit\'s cpp and dtc (identical to cpp + dtc 1.6.1)',
      listing: `FDT v${fdt.version}, ${dtb.length} bytes, ${nodes(fdt.root)} nodes, model "${new TextDecoder().decode(fdt.root.props.find((p) => p.name === 'model')?.value ?? new Uint8Array()).replace(/\0$/, '')}"`,
    },
    { path: dtsPath, what: 'router.dtb decompiled (fdt decompile); recompiles to the same bytes', listing: dts.split('\n').slice(0, 6).join('\n') },
  ];
}
