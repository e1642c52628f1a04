import { appendFileSync } from 'node:fs';

let out;
export function initialize(file) {
  out = file;
}
export async function load(url, context, next) {
  if (out && url.startsWith('file:')) appendFileSync(out, url + '\n');
  return next(url, context);
}
