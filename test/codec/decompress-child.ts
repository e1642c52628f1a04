/**
 * Child process of decompress.test.ts: runs `imgkit decompress ARGS…` (the command's own main) in
 * this process and, as it exits, writes its peak RSS in KiB to the file named by IMGKIT_TEST_MAXRSS.
 * The peak is VmHWM of /proc/self/status where there is one: getrusage's maxRSS outlives exec on
 * Linux, so in a child it is at least what its parent had resident when it was spawned.
 * Run as: node --import tsx decompress-child.ts ARGS…
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { decompressMain } from '../../src/cli/compress.js';
import { runMain } from '../../src/cli/run.js';

function peakKiB(): number {
  try {
    const m = /^VmHWM:\s*(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // no procfs
  }
  return process.resourceUsage().maxRSS;
}

const report = process.env.IMGKIT_TEST_MAXRSS;
if (report) process.on('exit', () => writeFileSync(report, String(peakKiB())));
runMain('imgkit decompress', decompressMain);
