/** `initramfs`: not yet implemented; it lands with its format. */
import { runMain } from './run.js';

runMain('initramfs', async () => {
  process.stderr.write('initramfs: this tool is not available yet in this version of imgkit\n');
  return 2;
});
