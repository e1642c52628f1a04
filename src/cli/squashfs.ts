/** `squashfs`: not yet implemented; it lands with its format. */
import { runMain } from './run.js';

runMain('squashfs', async () => {
  process.stderr.write('squashfs: this tool is not available yet in this version of imgkit\n');
  return 2;
});
