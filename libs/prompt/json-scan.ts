/** Finds where one JSON object or array starting at `start` ends, honouring strings; -1 if it doesn't. */
export function scanJsonValue(text: string, start: number): number {
  const open = text[start];
  if (open !== '{' && open !== '[') return -1;
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') stack.push(c === '{' ? '}' : ']');
    else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}

/** Parses the JSON value at `start`; null when there is none. */
export function parseJsonAt(text: string, start: number): { value: unknown; end: number } | null {
  const end = scanJsonValue(text, start);
  if (end < 0) return null;
  try {
    return { value: JSON.parse(text.slice(start, end)) as unknown, end };
  } catch {
    return null;
  }
}
