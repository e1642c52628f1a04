/** `imgkit decompress`: lives in compress.ts, which runs it when argv[1] names decompress (the umbrella sets "imgkit decompress"). */
if (!/decompress/.test(process.argv[1] ?? '')) process.argv[1] = 'imgkit decompress';
await import('./compress.js');
