// The real documents in ../shared/docs-sample (see its sources): each parses as its type, with
// the structure a reader would expect to be kept.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument, type ParsedDocument } from './index';

const SAMPLES = join(__dirname, '../../../../shared/docs-sample');
const present = existsSync(SAMPLES);
if (!present) console.warn(`docs-sample specs skipped: ${SAMPLES} is absent`);
const maybe = present ? describe : describe.skip;

const files = (dir: string) => (present ? readdirSync(join(SAMPLES, dir)).sort() : []);
const parse = (dir: string, name: string) => parseDocument(readFileSync(join(SAMPLES, dir, name)), name);
const all = (doc: ParsedDocument) => doc.blocks.map((b) => b.text).join('\n');
const pageOf = (doc: ParsedDocument, phrase: string) => doc.blocks.find((b) => b.text.includes(phrase))?.page;

maybe('docs-sample', () => {
  it.each([
    ['pdf', 'pdf'],
    ['docx', 'docx'],
    ['html', 'html'],
    ['markdown', 'markdown'],
    ['xlsx', 'xlsx'],
  ] as const)('every file in %s/ parses as %s with text', async (dir, type) => {
    for (const name of files(dir)) {
      const doc = await parse(dir, name);
      expect({ name, type: doc.type }).toEqual({ name, type });
      expect(all(doc).length).toBeGreaterThan(100);
    }
  });

  it('PDFs report their page count and the page a phrase stands on', async () => {
    const fr = await parse('pdf', 'federal-register-2020-17221.pdf');
    expect(fr.pages).toBe(15);
    expect(pageOf(fr, 'A flight control law generates commands')).toBe(3);
    expect(pageOf(fr, 'Seattle-ACO-AMOC-Requests@faa.gov')).toBe(15);
    expect(pageOf(fr, 'The Runaway Stabilizer checklist')).toBe(4);
    expect(fr.blocks.every((b) => b.page !== null && b.page >= 1 && b.page <= 15)).toBe(true);

    const scotus = await parse('pdf', 'scotus-transcript-p1.pdf');
    expect(scotus.pages).toBe(1);
    expect(pageOf(scotus, 'IN THE SUPREME COURT OF THE UNITED STATES')).toBe(1);
    expect((await parse('pdf', '18f-EFT_Enrollment_Form.pdf')).pages).toBe(1);
  });

  it('DOCX keeps Word headings as the heading path', async () => {
    const doc = await parse('docx', '18f-TEMPLATE_Team_charter.docx');
    const members = doc.blocks.find((b) => b.kind === 'heading' && b.text === '18F team members');
    expect(members?.headingPath).toEqual(['Our team', '18F team members']);
    const table = doc.blocks.find((b) => b.kind === 'table' && b.text.startsWith('Name | Role'));
    expect(table?.headingPath).toEqual(['Our team', '18F team members']);
  });

  it('Markdown keeps headings and drops the front matter', async () => {
    const name = '18f-handbook__tools_tock.md';
    const doc = await parse('markdown', name);
    expect(doc.title).toBe('Tock');
    expect(all(doc)).not.toContain('redirect_from');
    expect(doc.blocks.some((b) => b.kind === 'heading' && b.text === 'Quick reference')).toBe(true);
    expect(doc.blocks.find((b) => b.text.startsWith('- Out of Office'))?.headingPath).toEqual([
      'Quick reference',
      '18F',
    ]);
  });

  it('Wikipedia HTML keeps the article and drops the navigation', async () => {
    for (const name of ['wikipedia-Mozilla.html', 'wikipedia-Hermitian_matrix.html']) {
      const text = all(await parse('html', name));
      for (const nav of [
        'Jump to navigation',
        'Navigation menu',
        'Main page',
        'Random article',
        'Personal tools',
        'Create account',
        '[edit]',
      ]) {
        expect({ name, nav, found: text.includes(nav) }).toEqual({ name, nav, found: false });
      }
    }
    const mozilla = await parse('html', 'wikipedia-Mozilla.html');
    expect(all(mozilla)).toContain(
      'Mozilla is a free-software community, created in 1998 by members of Netscape',
    );
    expect(
      mozilla.blocks.find((b) => b.text.startsWith('On March 24, 2014, Mozilla promoted Brendan Eich'))
        ?.headingPath,
    ).toEqual(['History', 'Eich CEO promotion controversy']);
    expect(all(await parse('html', 'wikipedia-Hermitian_matrix.html'))).toContain(
      'In mathematics, a Hermitian matrix',
    );
  });

  it('XLSX names each sheet as a heading and rows carry their header names', async () => {
    const doc = await parse('xlsx', '18f-TEMPLATE_Risk_tracker.xlsx');
    expect(doc.blocks.filter((b) => b.kind === 'heading').map((b) => b.text)).toEqual([
      'Front Matter',
      'Risks',
    ]);
    const risks = doc.blocks.find((b) => b.kind === 'row' && b.headingPath[0] === 'Risks');
    // The template's Risks sheet has its header row and no data yet.
    expect(risks?.text).toContain('Title; Description; Impact; Likelihood; Status');
  });

  it('reports parse speed', async () => {
    let pages = 0;
    let count = 0;
    const t0 = performance.now();
    for (const dir of ['pdf', 'docx', 'html', 'markdown', 'xlsx']) {
      for (const name of files(dir)) {
        pages += (await parse(dir, name)).pages ?? 0;
        count++;
      }
    }
    const s = (performance.now() - t0) / 1000;
    console.log(
      `docs-sample: ${count} files in ${s.toFixed(2)} s (${(count / s).toFixed(1)} files/s), ${pages} PDF pages`,
    );
  });
});
