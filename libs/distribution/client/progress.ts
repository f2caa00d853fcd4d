/** Ollama's pull/push progress messages (api.ProgressResponse). */
export interface ProgressMessage {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

export type ProgressFn = (p: ProgressMessage) => void;

/** Ollama's short form of a digest in progress lines: the first 12 hex characters. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256[:-]/, '').slice(0, 12);
}

/** Calls `fn` at most every `ms`, but always for the final value. */
export function throttled(
  ms: number,
  fn: (completed: number) => void,
  total: number,
): (completed: number) => void {
  let last = 0;
  return (completed) => {
    const now = Date.now();
    if (completed < total && now - last < ms) return;
    last = now;
    fn(completed);
  };
}
