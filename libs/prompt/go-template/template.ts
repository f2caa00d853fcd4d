/**
 * A parsed Go text/template. `Template.parse` throws {@link TemplateSyntaxError}; `execute` throws
 * {@link TemplateExecError}. Both carry 1-based line and column.
 */
import type { Node } from './ast';
import { BUILTINS, type GoFunc } from './builtins';
import { execute, type ExecLimits, type Program } from './exec';
import { parse } from './parser';

export interface TemplateOptions {
  /** Functions beyond Go's builtins, by name (like template.Funcs). */
  funcs?: Readonly<Record<string, GoFunc>>;
}

export class Template {
  private constructor(private readonly prog: Program) {}

  static parse(src: string, options: TemplateOptions = {}): Template {
    const funcs = { ...BUILTINS, ...options.funcs };
    const { root, defs } = parse(src, new Set(Object.keys(funcs)));
    return new Template({ src, root, defs, funcs });
  }

  get source(): string {
    return this.prog.src;
  }

  /** The top-level nodes, for callers that analyse or rewrite the tree (Ollama's Vars, legacy cut). */
  get root(): readonly Node[] {
    return this.prog.root;
  }

  /** `define`d templates by name. */
  get definitions(): ReadonlyMap<string, readonly Node[]> {
    return this.prog.defs;
  }

  /** A copy of this template with another root list (same definitions and functions). */
  withRoot(root: Node[]): Template {
    return new Template({ ...this.prog, root });
  }

  execute(data: unknown, limits?: ExecLimits): string {
    return execute(this.prog, data, limits);
  }
}
