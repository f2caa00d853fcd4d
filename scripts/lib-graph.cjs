/**
 * The import graph between libs/ (and apps/), for the architecture spec and the lint rule.
 * A lib is a folder under libs/; an entry is a file a tsconfig `@corral/*` alias points at
 * (libs/x/index.ts, and sub-entries such as libs/cluster/worker/index.ts). Imports of another lib
 * must go through an entry; no two libs may depend on each other, directly or around a circle.
 */
const { readFileSync, readdirSync } = require('node:fs');
const { dirname, join, relative, resolve, sep } = require('node:path');

const ROOT = resolve(__dirname, '..');

/** `@corral/x` → absolute path of its entry file, from tsconfig.json. */
function aliases(root = ROOT) {
  const text = readFileSync(join(root, 'tsconfig.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const paths = JSON.parse(text).compilerOptions.paths;
  const out = new Map();
  for (const [alias, [target]] of Object.entries(paths)) out.set(alias, resolve(root, target));
  return out;
}

/** The lib an absolute path belongs to, or null outside libs/. */
function libOf(file, root = ROOT) {
  const r = relative(join(root, 'libs'), file);
  if (r.startsWith('..') || r === '') return null;
  return r.split(sep)[0];
}

const stripExt = (p) => p.replace(/\.(ts|js|mjs|cjs)$/, '').replace(/[\\/]index$/, '');

/**
 * Why an import breaks the boundaries, or undefined when it keeps them. `spec` is the import's
 * string as written, `file` the absolute path of the importing file.
 */
function boundaryProblem(spec, file, entries = aliases()) {
  if (spec.startsWith('@corral/')) {
    if (entries.has(spec)) return undefined;
    const base = [...entries.keys()].find((a) => spec.startsWith(a + '/'));
    return base ? `import ${base} through its index, not ${spec}` : undefined;
  }
  if (!spec.startsWith('.')) return undefined;
  const target = resolve(dirname(file), spec);
  const to = libOf(target);
  if (to === null || to === libOf(file)) return undefined;
  const entryFiles = new Set([...entries.values()].map(stripExt));
  if (entryFiles.has(stripExt(target))) {
    const alias = [...entries].find(([, p]) => stripExt(p) === stripExt(target))?.[0];
    return `import ${alias} instead of the relative path ${spec}`;
  }
  return `${spec} reaches into libs/${to}: import it through its @corral alias`;
}

function sourceFiles(root = ROOT) {
  const files = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'dist') walk(p);
      } else if (/\.ts$/.test(e.name) && !/\.(spec|e2e)\.ts$/.test(e.name) && !/\.d\.ts$/.test(e.name)) {
        files.push(p);
      }
    }
  };
  walk(join(root, 'libs'));
  walk(join(root, 'apps'));
  return files.filter((f) => !/[\\/](testing|testdata)[\\/]/.test(f) && !/[\\/]testing\.ts$/.test(f));
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** lib → the libs it imports (production files only: specs and test helpers are left out). */
function libEdges(root = ROOT) {
  const entries = aliases(root);
  const edges = new Map();
  for (const file of sourceFiles(root)) {
    const from = libOf(file, root);
    if (!from) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2];
      let target;
      if (spec.startsWith('@corral/')) target = entries.get(spec.split('/').slice(0, 2).join('/'));
      else if (spec.startsWith('.')) target = resolve(dirname(file), spec);
      const to = target ? libOf(target, root) : null;
      if (to && to !== from) {
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from).add(to);
      }
    }
  }
  return edges;
}

/** Strongly connected components of more than one lib (Tarjan). */
function cycles(edges) {
  let index = 0;
  const stack = [];
  const onStack = new Set();
  const idx = new Map();
  const low = new Map();
  const out = [];
  const nodes = new Set([...edges.keys(), ...[...edges.values()].flatMap((s) => [...s])]);
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

module.exports = { ROOT, aliases, libOf, boundaryProblem, sourceFiles, libEdges, cycles, IMPORT_RE };
