/** HTML: the main content (Readability over linkedom), then the shared DOM walker. */
import { blocksFromDom, type DomNode } from './html-blocks';
import type { ParsedDocument } from './parsing.types';
import { oneLine } from './text-util';

// Never content: site chrome and scripts. Removed before Readability so it cannot pick them.
const BOILERPLATE =
  'script, style, noscript, template, iframe, nav, aside, form, body > header, body > footer, [role="navigation"], [role="banner"], [role="contentinfo"], [role="search"], [aria-hidden="true"], .mw-jump-link, .mw-editsection, .navbox, .sidebar, .toc';

export async function parseHtml(html: string): Promise<ParsedDocument> {
  const { parseHTML } = await import('linkedom');
  const { Readability } = await import('@mozilla/readability');
  const { document } = parseHTML(html);
  const pageTitle = oneLine(document.title ?? '') || null;
  for (const el of Array.from(document.querySelectorAll(BOILERPLATE) as ArrayLike<{ remove(): void }>))
    el.remove();
  const fallback = document.body ? document.body.innerHTML : '';

  let content: string | null = null;
  let title = pageTitle;
  try {
    const article = new Readability(document as never, { charThreshold: 200 }).parse();
    if (article?.content && oneLine(article.textContent ?? '').length >= 200) {
      content = article.content;
      title = oneLine(article.title ?? '') || pageTitle;
    }
  } catch {
    // Readability gives up on odd DOMs; the cleaned body is still better than nothing.
  }
  // Short pages (a snippet, a fragment) are all content; Readability needs enough text to score.
  const { document: main } = parseHTML(`<!doctype html><html><body>${content ?? fallback}</body></html>`);
  const blocks = blocksFromDom(main.body as unknown as DomNode);
  return { type: 'html', pages: null, title, blocks };
}
