/** Small text helpers shared by the parsers. */

/** Collapses runs of spaces/tabs and trims, keeping line breaks (they carry structure in code and tables). */
export function tidy(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[\t\f\v \u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Collapses all whitespace to single spaces (for headings and prose paragraphs). */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The filename's extension, lower case, without the dot; '' when none. Safe for any hostile name. */
export function extensionOf(filename: string): string {
  const base =
    String(filename)
      .slice(-256)
      .split(/[/\\\0]/)
      .pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 && dot < base.length - 1 ? base.slice(dot + 1).toLowerCase() : '';
}

/** Decodes text, honouring a UTF-8/UTF-16 byte order mark; invalid UTF-8 becomes U+FFFD. */
export function decodeText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
}
