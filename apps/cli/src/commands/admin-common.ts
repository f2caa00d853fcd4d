/** What the admin verbs (keys, teams, users) share: paged responses and query strings. */
export interface Out {
  write(s: string): unknown;
}

export interface PageOf<T> {
  data: T[];
  next_cursor: string | null;
}

export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Every page of a paginated admin list. */
export async function allPages<T>(fetchPage: (cursor?: string) => Promise<PageOf<T>>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    items.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return items;
}

/** First line of stdin (for passwords: never on the command line, where `ps` shows it). */
export async function readLine(input: NodeJS.ReadableStream): Promise<string> {
  let data = '';
  for await (const chunk of input) {
    data += chunk.toString();
    if (data.includes('\n')) break;
  }
  return data.split('\n')[0]!.replace(/\r$/, '');
}
