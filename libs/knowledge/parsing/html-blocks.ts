/**
 * Turns a DOM (linkedom) into blocks: headings build the heading path, lists/tables/code keep their
 * kind, inline runs become paragraphs. Shared by the HTML parser and DOCX (mammoth emits HTML).
 */
import type { Block } from './parsing.types';
import { oneLine, tidy } from './text-util';

// Minimal structural view of the DOM nodes we read; linkedom's own types are heavier than needed.
export interface DomNode {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
  getAttribute?(name: string): string | null;
}

const SKIP = new Set([
  'SCRIPT',
  'STYLE',
  'NOSCRIPT',
  'TEMPLATE',
  'IFRAME',
  'OBJECT',
  'SVG',
  'CANVAS',
  'BUTTON',
  'SELECT',
  'INPUT',
  'TEXTAREA',
  'HEAD',
  'TITLE',
  'META',
  'LINK',
]);
const CONTAINERS = new Set([
  'HTML',
  'BODY',
  'DIV',
  'SECTION',
  'ARTICLE',
  'MAIN',
  'HEADER',
  'FOOTER',
  'ASIDE',
  'NAV',
  'FORM',
  'FIELDSET',
  'FIGURE',
  'DETAILS',
  'CENTER',
  'BLOCKQUOTE',
  'ADDRESS',
  'HGROUP',
  'DD',
  'DT',
  'DL',
  'TBODY',
]);
const PARAGRAPHS = new Set(['P', 'FIGCAPTION', 'SUMMARY', 'CAPTION', 'LEGEND']);

export function blocksFromDom(root: DomNode): Block[] {
  const out: Block[] = [];
  const headings: string[] = [];
  let inline = '';

  const path = () => headings.filter((h) => h !== '');
  const flush = () => {
    const text = oneLine(inline);
    inline = '';
    if (text) out.push({ text, headingPath: path(), page: null, kind: 'paragraph' });
  };
  const push = (text: string, kind: Block['kind']) => {
    flush();
    if (text) out.push({ text, headingPath: path(), page: null, kind });
  };

  const visit = (node: DomNode): void => {
    if (node.nodeType === 3) {
      inline += node.textContent ?? '';
      return;
    }
    if (node.nodeType !== 1) return;
    const tag = node.nodeName.toUpperCase();
    if (SKIP.has(tag) || isHidden(node)) return;
    const level = /^H([1-6])$/.exec(tag)?.[1];
    if (level) {
      flush();
      const text = oneLine(inlineText(node));
      if (!text) return;
      const n = Number(level);
      headings.length = Math.min(headings.length, n - 1);
      while (headings.length < n - 1) headings.push('');
      headings.push(text);
      out.push({ text, headingPath: path(), page: null, kind: 'heading' });
      return;
    }
    if (tag === 'BR') {
      inline += '\n';
      return;
    }
    if (tag === 'MATH') {
      inline += ` ${mathText(node)} `;
      return;
    }
    if (tag === 'PRE') return push(tidyCode(node.textContent ?? ''), 'code');
    if (tag === 'UL' || tag === 'OL') return push(listText(node, 0), 'list');
    if (tag === 'TABLE') return push(tableText(node), 'table');
    if (PARAGRAPHS.has(tag)) {
      flush();
      inline = inlineText(node);
      flush();
      return;
    }
    const container = CONTAINERS.has(tag) || tag === 'LI';
    if (container) flush();
    for (const child of Array.from(node.childNodes)) visit(child);
    if (container) flush();
  };

  visit(root);
  flush();
  return out;
}

/** Text of an inline subtree, MathML replaced by its TeX alt text, block tags spaced. */
function inlineText(node: DomNode): string {
  if (node.nodeType === 3) return node.textContent ?? '';
  if (node.nodeType !== 1) return '';
  const tag = node.nodeName.toUpperCase();
  if (SKIP.has(tag)) return '';
  if (tag === 'MATH') return ` ${mathText(node)} `;
  if (tag === 'BR') return '\n';
  let s = '';
  for (const c of Array.from(node.childNodes)) s += inlineText(c);
  return /^(P|DIV|LI|TD|TH|H[1-6])$/.test(tag) ? ` ${s} ` : s;
}

function isHidden(node: DomNode): boolean {
  return node.getAttribute?.('hidden') != null || node.getAttribute?.('aria-hidden') === 'true';
}

function mathText(node: DomNode): string {
  const alt = node.getAttribute?.('alttext');
  if (alt) return alt.replace(/^\{\\displaystyle\s*([\s\S]*)\}$/, '$1').trim();
  return oneLine(node.textContent ?? '');
}

function tidyCode(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/^\n+|\s+$/g, '');
}

function listText(list: DomNode, depth: number): string {
  const lines: string[] = [];
  const ordered = list.nodeName.toUpperCase() === 'OL';
  let n = 0;
  for (const item of Array.from(list.childNodes)) {
    if (item.nodeType !== 1 || item.nodeName.toUpperCase() !== 'LI') continue;
    n++;
    let own = '';
    const nested: string[] = [];
    for (const c of Array.from(item.childNodes)) {
      const t = c.nodeType === 1 ? c.nodeName.toUpperCase() : '';
      if (t === 'UL' || t === 'OL') nested.push(listText(c, depth + 1));
      else own += inlineText(c);
    }
    const text = oneLine(own);
    if (text) lines.push(`${'  '.repeat(depth)}${ordered ? `${n}.` : '-'} ${text}`);
    lines.push(...nested.filter(Boolean));
  }
  return lines.join('\n');
}

function tableText(table: DomNode): string {
  const rows: string[] = [];
  const walk = (n: DomNode) => {
    for (const c of Array.from(n.childNodes)) {
      if (c.nodeType !== 1) continue;
      const tag = c.nodeName.toUpperCase();
      if (tag === 'TR') {
        const cells = Array.from(c.childNodes)
          .filter((td) => td.nodeType === 1 && /^(TD|TH)$/i.test(td.nodeName))
          .map((td) => oneLine(inlineText(td)));
        if (cells.some(Boolean)) rows.push(cells.join(' | '));
      } else if (tag !== 'TABLE') walk(c); // thead/tbody/tfoot; nested tables stay in their cell's text
    }
  };
  walk(table);
  return tidy(rows.join('\n'));
}
