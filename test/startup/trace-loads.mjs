// Preloaded with --import: records the URL of every ES module the process loads, one per line, in
// the file named by IMGKIT_TRACE_LOADS (the hooks run on their own thread and append to it).
import { register } from 'node:module';

register('./trace-hooks.mjs', import.meta.url, { data: process.env.IMGKIT_TRACE_LOADS });
