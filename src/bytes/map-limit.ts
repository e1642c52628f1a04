/** Runs `fn` over `xs` with at most `n` calls in flight, keeping the order of results. */
export async function mapLimit<T, U>(xs: readonly T[], n: number, fn: (x: T) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(xs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, xs.length) }, worker));
  return out;
}
