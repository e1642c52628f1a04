/** `fdt`: not yet implemented; it lands with its format. */
import { runMain } from './run.js';

runMain('fdt', async () => {
  process.stderr.write('fdt: this tool is not available yet in this version of imgkit\n');
  return 2;
});
