/**
 * The structure keeps itself: no two libs depend on each other (directly or around a circle), and
 * nothing reaches into another lib around its index.ts. The graph code is shared with the lint
 * rule (scripts/lib-graph.cjs); docs/development.md shows the layers.
 */
import { join } from 'node:path';

interface LibGraph {
  ROOT: string;
  aliases(): Map<string, string>;
  boundaryProblem(spec: string, file: string, entries?: Map<string, string>): string | undefined;
  sourceFiles(): string[];
  libEdges(): Map<string, Set<string>>;
  cycles(edges: Map<string, Set<string>>): string[][];
  IMPORT_RE: RegExp;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const graph = require('../../../scripts/lib-graph.cjs') as LibGraph;
import { readFileSync } from 'node:fs';

describe('architecture', () => {
  it('has no cycle between libs', () => {
    const edges = graph.libEdges();
    expect(edges.size).toBeGreaterThan(10);
    expect(graph.cycles(edges)).toEqual([]);
  });

  it('finds a cycle when one is added', () => {
    const edges = graph.libEdges();
    // Every lib that depends on common would, with this edge, sit on a circle with it.
    edges.set('common', new Set([...(edges.get('common') ?? []), 'audit']));
    const found = graph.cycles(edges);
    expect(found.length).toBe(1);
    expect(found[0]).toEqual(expect.arrayContaining(['audit', 'common']));
  });

  it('keeps the layers: the kernel and config import no feature lib', () => {
    const edges = graph.libEdges();
    for (const low of ['common', 'config', 'core']) {
      const feature = [...(edges.get(low) ?? [])].filter((l) => !['common', 'config', 'core'].includes(l));
      expect({ lib: low, imports: feature }).toEqual({ lib: low, imports: [] });
    }
  });

  it('imports other libs only through their entries', () => {
    const entries = graph.aliases();
    const problems: string[] = [];
    for (const file of graph.sourceFiles()) {
      for (const m of readFileSync(file, 'utf8').matchAll(graph.IMPORT_RE)) {
        const spec = m[1] ?? m[2]!;
        const p = graph.boundaryProblem(spec, file, entries);
        if (p) problems.push(`${file.slice(graph.ROOT.length + 1)}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names a deep import and a reach into another lib as problems', () => {
    const file = join(graph.ROOT, 'libs/prompt/build.ts');
    expect(graph.boundaryProblem('@corral/dispatch/protocol', file)).toMatch(/through its index/);
    expect(graph.boundaryProblem('../dispatch/protocol', file)).toMatch(/reaches into libs\/dispatch/);
    expect(graph.boundaryProblem('./ollama-template', file)).toBeUndefined();
    expect(graph.boundaryProblem('@corral/common', file)).toBeUndefined();
  });
});
