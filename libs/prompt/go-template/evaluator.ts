/**
 * Expression evaluation for the executor (text/template/exec.go's evalPipeline, evalCommand,
 * evalField, evalFunction, evalCall): the variable stack, field and map access with Ollama's
 * missingkey=zero, lazy `and`/`or`, and Go's error wording. Statements live in exec.ts.
 */
import { argText, type Arg, type CommandNode, type Node, type PipeNode } from './ast';
import { BUILTIN_ARITY, type GoFunc } from './builtins';
import { lineCol } from './lexer';
import { GoStruct, OrderedObject, goTypeName, isMap, isTrue } from './values';

export class TemplateExecError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(detail);
    this.name = 'TemplateExecError';
  }
}

export interface ExecLimits {
  /** Nodes and commands evaluated before execution is abandoned. Defaults to 5,000,000. */
  maxSteps?: number;
  /** Characters of output before execution is abandoned. Defaults to 32 MiB. */
  maxOutput?: number;
}

/** Marks "no value piped in" so it differs from a piped-in undefined. */
export const MISSING = Symbol('missing');
type Final = unknown;

export interface Program {
  src: string;
  root: Node[];
  defs: ReadonlyMap<string, Node[]>;
  funcs: Readonly<Record<string, GoFunc>>;
}

export abstract class Evaluator {
  protected vars: { name: string; value: unknown }[] = [];
  protected name = '';
  private steps = 0;
  private readonly maxSteps: number;

  constructor(
    protected readonly prog: Program,
    limits: ExecLimits,
  ) {
    this.maxSteps = limits.maxSteps ?? 5_000_000;
  }

  protected fail(pos: number, msg: string, at?: string): never {
    const { line, col } = lineCol(this.prog.src, pos);
    const where = at === undefined ? '' : ` at <${at}>`;
    throw new TemplateExecError(
      `template: :${line}:${col}: executing "${this.name}"${where}: ${msg}`,
      line,
      col,
    );
  }

  protected tick(pos: number): void {
    if (++this.steps > this.maxSteps) this.fail(pos, `execution exceeded ${this.maxSteps} steps`);
  }

  protected setVar(pos: number, name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i];
      if (v && v.name === name) {
        v.value = value;
        return;
      }
    }
    this.fail(pos, `undefined variable: ${name}`);
  }

  protected setTopVar(n: number, value: unknown): void {
    const v = this.vars[this.vars.length - n];
    if (v) v.value = value;
  }

  protected varValue(pos: number, name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i];
      if (v && v.name === name) return v.value;
    }
    this.fail(pos, `undefined variable: ${name}`);
  }

  // ---- expressions -------------------------------------------------------------------------

  protected evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go unwraps an interface after each stage: a nil held in a map becomes "no value".
      if (value === null) value = undefined;
    }
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(pipe.pos, name, value);
      else this.vars.push({ name, value });
    }
    return value;
  }

  protected evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    this.tick(cmd.pos);
    const [first] = cmd.args;
    if (!first) this.fail(cmd.pos, 'empty command');
    switch (first.kind) {
      case 'field':
        return this.evalFieldChain(dot, dot, cmd, first.ident, cmd.args, final);
      case 'chain':
        return this.evalFieldChain(
          dot,
          this.evalArg(dot, first.node, cmd),
          cmd,
          first.field,
          cmd.args,
          final,
        );
      case 'identifier':
        return this.evalFunction(dot, first.name, cmd, cmd.args, final);
      case 'variable': {
        const value = this.varValue(first.pos, first.ident[0] ?? '$');
        if (first.ident.length === 1) {
          this.notAFunction(cmd, final);
          return value;
        }
        return this.evalFieldChain(dot, value, cmd, first.ident.slice(1), cmd.args, final);
      }
      case 'pipe':
        this.notAFunction(cmd, final);
        return this.evalPipeline(dot, first);
      case 'bool':
      case 'number':
      case 'string':
        this.notAFunction(cmd, final);
        return first.value;
      case 'dot':
        this.notAFunction(cmd, final);
        return dot;
      case 'nil':
        this.notAFunction(cmd, final);
        this.fail(first.pos, 'nil is not a command', cmd.text);
    }
  }

  protected notAFunction(cmd: CommandNode, final: Final): void {
    const [first] = cmd.args;
    if (cmd.args.length > 1 || final !== MISSING) {
      this.fail(cmd.pos, `can't give argument to non-function ${first ? argText(first) : ''}`, cmd.text);
    }
  }

  protected evalArg(dot: unknown, arg: Arg, cmd: CommandNode): unknown {
    switch (arg.kind) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'bool':
      case 'number':
      case 'string':
        return arg.value;
      case 'field':
        return this.evalFieldChain(dot, dot, cmd, arg.ident, [arg], MISSING);
      case 'variable': {
        const value = this.varValue(arg.pos, arg.ident[0] ?? '$');
        return arg.ident.length === 1
          ? value
          : this.evalFieldChain(dot, value, cmd, arg.ident.slice(1), [arg], MISSING);
      }
      case 'chain':
        return this.evalFieldChain(dot, this.evalArg(dot, arg.node, cmd), cmd, arg.field, [arg], MISSING);
      case 'identifier':
        return this.evalFunction(dot, arg.name, cmd, [arg], MISSING);
      case 'pipe':
        return this.evalPipeline(dot, arg);
    }
  }

  protected evalFieldChain(
    dot: unknown,
    receiver: unknown,
    cmd: CommandNode,
    ident: string[],
    args: Arg[],
    final: Final,
  ): unknown {
    let r = receiver;
    ident.forEach((name, i) => {
      const last = i === ident.length - 1;
      r = this.evalField(dot, name, cmd, last ? args : [], last ? final : MISSING, r);
    });
    return r;
  }

  protected evalField(
    dot: unknown,
    name: string,
    cmd: CommandNode,
    args: Arg[],
    final: Final,
    receiver: unknown,
  ): unknown {
    if (receiver === undefined) return undefined;
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver instanceof GoStruct) {
      const method = receiver.hooks.methods?.[name];
      if (method) return this.evalCall(dot, method, name, cmd, args, final);
      if (Object.prototype.hasOwnProperty.call(receiver.fields, name)) {
        if (hasArgs) this.fail(cmd.pos, `${name} has arguments but cannot be invoked as function`, cmd.text);
        return receiver.fields[name];
      }
      this.fail(cmd.pos, `can't evaluate field ${name} in type ${receiver.typeName}`, cmd.text);
    }
    if (receiver === null) this.fail(cmd.pos, `nil pointer evaluating interface {}.${name}`, cmd.text);
    if (isMap(receiver) || receiver instanceof OrderedObject) {
      if (hasArgs) this.fail(cmd.pos, `${name} is not a method but has arguments`, cmd.text);
      const m = receiver instanceof OrderedObject ? Object.fromEntries(receiver.entries) : receiver;
      // Ollama runs templates with missingkey=zero: an absent key is a nil interface.
      return Object.prototype.hasOwnProperty.call(m, name) ? m[name] : null;
    }
    this.fail(cmd.pos, `can't evaluate field ${name} in type ${goTypeName(receiver)}`, cmd.text);
  }

  protected evalFunction(dot: unknown, name: string, cmd: CommandNode, args: Arg[], final: Final): unknown {
    const fn = this.prog.funcs[name];
    if (!fn) this.fail(cmd.pos, `"${name}" is not a defined function`, cmd.text);
    if (name === 'and' || name === 'or') {
      const n = args.length - 1 + (final === MISSING ? 0 : 1);
      if (n < 1) this.fail(cmd.pos, `wrong number of args for ${name}: want at least 1 got 0`, cmd.text);
      let v: unknown;
      for (const a of args.slice(1)) {
        v = this.evalArg(dot, a, cmd);
        if (isTrue(v) === (name === 'or')) return v;
      }
      return final === MISSING ? v : final;
    }
    return this.evalCall(dot, fn, name, cmd, args, final);
  }

  protected evalCall(
    dot: unknown,
    fn: GoFunc,
    name: string,
    cmd: CommandNode,
    args: Arg[],
    final: Final,
  ): unknown {
    const values = args.slice(1).map((a) => this.evalArg(dot, a, cmd));
    if (final !== MISSING) values.push(final);
    const arity = BUILTIN_ARITY[name];
    if (arity && (values.length < arity[0] || values.length > arity[1])) {
      const want = arity[0] === arity[1] ? `${arity[0]}` : `at least ${arity[0]}`;
      this.fail(cmd.pos, `wrong number of args for ${name}: want ${want} got ${values.length}`, cmd.text);
    }
    try {
      return fn(...values);
    } catch (e) {
      if (e instanceof TemplateExecError) throw e;
      this.fail(cmd.pos, `error calling ${name}: ${e instanceof Error ? e.message : String(e)}`, cmd.text);
    }
  }
}
