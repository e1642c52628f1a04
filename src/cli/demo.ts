/**
 * `imgkit demo` (`npm run demo`): builds the sample image set from the bundled inputs in
 * samples/ and lists what was built. Each format adds its samples in src/cli/demo-<format>.ts.
 */
import { mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runMain, UsageError } from './run.js';

const samples = fileURLToPath(new URL('../../samples/', import.meta.url));

type Sample = { path: string; what: string; listing: string };
const FORMATS: [string, () => Promise<{ buildSamples(out: string, samples: string): Promise<Sample[]> }>][] = [
  ['Android boot images', () => import('./demo-bootimg.js')],
  ['Device trees', () => import('./demo-dtb.js')],
  ['U-Boot images', () => import('./demo-uimage.js')],
  ['Initramfs (cpio)', () => import('./demo-cpio.js')],
  ['squashfs', () => import('./demo-squashfs.js')],
];

runMain('imgkit demo', async (argv) => {
  let out = 'out';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' || argv[i] === '-o') out = argv[++i] ?? '';
    else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write('Usage: imgkit demo [--out DIR]\n\nBuilds the sample images from samples/ into DIR (default: out) and lists them.\n');
      return 0;
    } else throw new UsageError(`unexpected argument '${argv[i]}'`);
  }
  if (!out) throw new UsageError('--out needs a folder');
  await mkdir(out, { recursive: true });
  let n = 0;
  for (const [title, load] of FORMATS) {
    process.stdout.write(`#### ${title}\n\n`);
    for (const s of await (await load()).buildSamples(out, samples)) {
      const { size } = await stat(s.path);
      process.stdout.write(`== ${s.path} (${size} bytes)\n   ${s.what}\n${s.listing.trimEnd().replace(/^/gm, '   ')}\n\n`);
      n++;
    }
  }
  process.stdout.write(`Built ${n} images in ${out}/. Look inside one with: ./bin/bootimg info ${out}/boot-v0.img\n`);
});
