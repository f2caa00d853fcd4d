/**
 * Executes a parsed template the way text/template/exec.go does: variable stack with marks, dot
 * rebinding in range/with, template calls with a fresh `$`, break/continue. A step and output
 * budget keeps a hostile request `template` from pinning the CPU.
 */
import type { Node, PipeNode, RangeNode } from './ast';
import { Evaluator, type ExecLimits, type Program } from './evaluator';
import { fmtV } from './format';
import { OrderedObject, isMap, isTrue, sortedKeys } from './values';

export { TemplateExecError, type ExecLimits, type Program } from './evaluator';

const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');
const MAX_DEPTH = 1000;

export function execute(prog: Program, data: unknown, limits: ExecLimits = {}): string {
  return new State(prog, limits).run(data);
}

class State extends Evaluator {
  private out: string[] = [];
  private outLen = 0;
  private depth = 0;
  private readonly maxOutput: number;

  constructor(prog: Program, limits: ExecLimits) {
    super(prog, limits);
    this.maxOutput = limits.maxOutput ?? 32 * 1024 * 1024;
  }

  run(data: unknown): string {
    this.vars = [{ name: '$', value: data }];
    this.walkList(data, this.prog.root);
    return this.out.join('');
  }

  private write(s: string, pos: number): void {
    this.outLen += s.length;
    if (this.outLen > this.maxOutput) this.fail(pos, `output exceeded ${this.maxOutput} characters`);
    this.out.push(s);
  }

  private walkList(dot: unknown, list: Node[]): void {
    for (const n of list) this.walk(dot, n);
  }

  private walk(dot: unknown, node: Node): void {
    this.tick(node.pos);
    switch (node.kind) {
      case 'text':
        return this.write(node.text, node.pos);
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node.pipe, val);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const val = this.evalPipeline(dot, node.pipe);
        if (typeof val === 'function') this.fail(node.pos, `if/with can't use ${fmtV(val)}`);
        if (isTrue(val)) this.walkList(node.kind === 'with' ? val : dot, node.list);
        else if (node.elseList) this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        return this.walkRange(dot, node);
      case 'template': {
        const list = this.prog.defs.get(node.name);
        if (!list) this.fail(node.pos, `template "${node.name}" not defined`, `{{template "${node.name}"}}`);
        if (++this.depth > MAX_DEPTH) this.fail(node.pos, `exceeded maximum template depth (${MAX_DEPTH})`);
        const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
        const saved = { vars: this.vars, name: this.name };
        this.vars = [{ name: '$', value: newDot }];
        this.name = node.name;
        try {
          this.walkList(newDot, list);
        } finally {
          this.vars = saved.vars;
          this.name = saved.name;
          this.depth--;
        }
        return;
      }
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
    }
  }

  private walkRange(dot: unknown, r: RangeNode): void {
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, r.pipe);
    const inner = this.vars.length;
    const decl = r.pipe.decl;
    const one = (index: unknown, elem: unknown): boolean => {
      this.tick(r.pos);
      if (r.pipe.isAssign) {
        if (decl.length === 1) this.setVar(r.pos, decl[0] ?? '', elem);
        else {
          this.setVar(r.pos, decl[0] ?? '', index);
          this.setVar(r.pos, decl[1] ?? '', elem);
        }
      } else {
        if (decl.length > 0) this.setTopVar(1, elem);
        if (decl.length > 1) this.setTopVar(2, index);
      }
      try {
        this.walkList(elem, r.list);
      } catch (e) {
        if (e === BREAK) return false;
        if (e !== CONTINUE) throw e;
      } finally {
        this.vars.length = inner;
      }
      return true;
    };
    let ran = false;
    if (Array.isArray(val)) {
      for (let i = 0; i < val.length; i++) {
        ran = true;
        if (!one(i, val[i])) break;
      }
    } else if (isMap(val) || val instanceof OrderedObject) {
      const m = val instanceof OrderedObject ? Object.fromEntries(val.entries) : val;
      for (const k of sortedKeys(m)) {
        ran = true;
        if (!one(k, m[k])) break;
      }
    } else if (typeof val === 'number' && Number.isInteger(val)) {
      if (decl.length > 1) this.fail(r.pos, `can't use ${fmtV(val)} to iterate over more than one variable`);
      for (let i = 0; i < val; i++) {
        ran = true;
        if (!one(i, i)) break;
      }
    } else if (val !== undefined && val !== null) {
      this.fail(r.pos, `range can't iterate over ${fmtV(val)}`);
    }
    if (!ran && r.elseList) this.walkList(dot, r.elseList);
    this.vars.length = mark;
  }

  private printValue(pipe: PipeNode, v: unknown): void {
    if (typeof v === 'function')
      this.fail(pipe.pos, `can't print ${pipe.cmds.map((c) => c.text).join(' | ')} of type func`);
    this.write(v === undefined ? '<no value>' : fmtV(v), pipe.pos);
  }

  // ---- variables ---------------------------------------------------------------------------
}
