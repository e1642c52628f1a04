/** `uimage`: not yet implemented; it lands with its format. */
import { runMain } from './run.js';

runMain('uimage', async () => {
  process.stderr.write('uimage: this tool is not available yet in this version of imgkit\n');
  return 2;
});
