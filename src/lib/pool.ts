/**
 * At most `limit` of `work` at once over `items`, each item started in order:
 * the project's one worker pool (facts over SSH, device certificates, the
 * campaign's fping batches). `stop` is asked before each item is started: once
 * it says so, no further item starts and the pool ends when the running ones do.
 * The first rejection rejects the whole, as Promise.all does.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stop()) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
