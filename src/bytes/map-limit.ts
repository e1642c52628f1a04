/**
 * Runs `fn` over `xs` with at most `n` calls in flight, keeping the order of results. After a
 * failure no new call starts; the calls still running settle (and clean up after themselves)
 * before the first error is thrown.
 */
export async function mapLimit<T, U>(xs: readonly T[], n: number, fn: (x: T) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(xs.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < xs.length) {
      const i = next++;
      try {
        out[i] = await fn(xs[i]!);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, xs.length) }, worker));
  if (failure) throw failure.error;
  return out;
}
