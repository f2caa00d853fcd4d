/**
 * `p`, or a rejection with `onTimeout()` after `ms` when `p` has not settled by then. The timer is
 * cleared when `p` settles; `p` itself is not cancelled (its owner decides what a late answer means).
 */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
