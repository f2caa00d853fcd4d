/** Markdown via mdast (micromark): front matter dropped, GFM tables and lists kept as blocks. */
import type { Nodes, Root, RootContent } from 'mdast';
import type { Block, ParsedDocument } from './parsing.types';
import { oneLine } from './text-util';

type Mdast = typeof import('mdast-util-from-markdown') &
  typeof import('micromark-extension-frontmatter') &
  typeof import('mdast-util-frontmatter') &
  typeof import('micromark-extension-gfm') &
  typeof import('mdast-util-gfm');
let mdast: Promise<Mdast> | undefined;

// One at a time: Jest's ESM loader fails to link modules imported concurrently.
function loadMdast(): Promise<Mdast> {
  mdast ??= (async () => ({
    ...(await import('mdast-util-from-markdown')),
    ...(await import('micromark-extension-frontmatter')),
    ...(await import('mdast-util-frontmatter')),
    ...(await import('micromark-extension-gfm')),
    ...(await import('mdast-util-gfm')),
  }))();
  return mdast;
}

export async function parseMarkdown(source: string): Promise<ParsedDocument> {
  const { fromMarkdown, frontmatter, frontmatterFromMarkdown, gfm, gfmFromMarkdown } = await loadMdast();
  const tree: Root = fromMarkdown(source, {
    extensions: [frontmatter(['yaml', 'toml']), gfm()],
    mdastExtensions: [frontmatterFromMarkdown(['yaml', 'toml']), gfmFromMarkdown()],
  });
  const blocks: Block[] = [];
  const headings: string[] = [];
  const path = () => headings.filter((h) => h !== '');
  const add = (text: string, kind: Block['kind']) => {
    if (text.trim()) blocks.push({ text: text.trim(), headingPath: path(), page: null, kind });
  };

  let fmTitle: string | null = null;
  const visit = (node: RootContent): void => {
    switch (node.type) {
      case 'yaml': {
        // Front matter is metadata, not text; only its title is worth keeping.
        const m = /^title:[ \t]*(['"]?)(.+?)\1[ \t]*$/m.exec(node.value);
        fmTitle = m?.[2] ? oneLine(m[2]) : null;
        return;
      }
      case 'heading': {
        const text = oneLine(plain(node));
        if (!text) return;
        headings.length = Math.min(headings.length, node.depth - 1);
        while (headings.length < node.depth - 1) headings.push('');
        headings.push(text);
        add(text, 'heading');
        return;
      }
      case 'paragraph':
        return add(oneLine(plain(node)), 'paragraph');
      case 'code':
        return add(node.value, 'code');
      case 'list':
        return add(listText(node, 0), 'list');
      case 'table':
        return add(
          node.children.map((row) => row.children.map((c) => oneLine(plain(c))).join(' | ')).join('\n'),
          'table',
        );
      case 'blockquote':
      case 'footnoteDefinition':
        for (const c of node.children) visit(c);
        return;
      case 'html':
        return add(oneLine(node.value.replace(/<!--[\s\S]*?-->/g, '').replace(/<[^>]*>/g, ' ')), 'paragraph');
      case 'thematicBreak':
      case 'definition':
        return; // no text to index
      // Phrasing content only occurs inside the blocks above.
      case 'break':
      case 'delete':
      case 'emphasis':
      case 'footnoteReference':
      case 'image':
      case 'imageReference':
      case 'inlineCode':
      case 'link':
      case 'linkReference':
      case 'listItem':
      case 'strong':
      case 'tableCell':
      case 'tableRow':
      case 'text':
        return add(oneLine(plain(node)), 'paragraph');
    }
  };
  for (const node of tree.children) visit(node);
  const h1 = tree.children.find((n) => n.type === 'heading' && n.depth === 1);
  const title = fmTitle ?? (h1 ? oneLine(plain(h1)) || null : null);
  return { type: 'markdown', pages: null, title, blocks };
}

/** Text of a phrasing subtree: link text kept, URLs and markup dropped, images by their alt text. */
function plain(node: Nodes): string {
  if ('value' in node && node.type !== 'html') return node.value;
  if (node.type === 'image') return node.alt ?? '';
  if (node.type === 'break') return '\n';
  if ('children' in node)
    return (node.children as Nodes[]).map(plain).join(node.type === 'listItem' ? ' ' : '');
  return '';
}

function listText(list: Extract<Nodes, { type: 'list' }>, depth: number): string {
  const lines: string[] = [];
  list.children.forEach((item, i) => {
    const marker = list.ordered
      ? `${(list.start ?? 1) + i}.`
      : item.checked == null
        ? '-'
        : item.checked
          ? '- [x]'
          : '- [ ]';
    const own: string[] = [];
    const nested: string[] = [];
    for (const c of item.children) {
      if (c.type === 'list') nested.push(listText(c, depth + 1));
      else own.push(c.type === 'code' ? c.value : oneLine(plain(c)));
    }
    lines.push(`${'  '.repeat(depth)}${marker} ${own.filter(Boolean).join(' ')}`.trimEnd(), ...nested);
  });
  return lines.join('\n');
}
