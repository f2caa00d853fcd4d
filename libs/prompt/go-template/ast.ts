/** Parse tree of a Go text/template, shaped like text/template/parse so the evaluator reads the same. */

export type Node =
  TextNode | ActionNode | IfNode | RangeNode | WithNode | TemplateNode | BreakNode | ContinueNode;

export interface Positioned {
  /** Source offset, for error positions. */
  pos: number;
}

export interface TextNode extends Positioned {
  kind: 'text';
  text: string;
}
export interface ActionNode extends Positioned {
  kind: 'action';
  pipe: PipeNode;
}
export interface BranchNode extends Positioned {
  pipe: PipeNode;
  list: Node[];
  elseList: Node[] | null;
}
export interface IfNode extends BranchNode {
  kind: 'if';
}
export interface RangeNode extends BranchNode {
  kind: 'range';
}
export interface WithNode extends BranchNode {
  kind: 'with';
}
export interface TemplateNode extends Positioned {
  kind: 'template';
  name: string;
  pipe: PipeNode | null;
}
export interface BreakNode extends Positioned {
  kind: 'break';
}
export interface ContinueNode extends Positioned {
  kind: 'continue';
}

export interface PipeNode extends Positioned {
  kind: 'pipe';
  /** Declared or assigned variables, e.g. `$i, $m :=`. */
  decl: string[];
  isAssign: boolean;
  cmds: CommandNode[];
}
export interface CommandNode extends Positioned {
  kind: 'command';
  args: Arg[];
  /** Source text, shown in execution errors as Go does (`at <.Foo>`). */
  text: string;
}

export type Arg =
  | { kind: 'field'; pos: number; ident: string[] }
  | { kind: 'variable'; pos: number; ident: string[] }
  | { kind: 'chain'; pos: number; node: Arg; field: string[] }
  | { kind: 'identifier'; pos: number; name: string }
  | { kind: 'dot'; pos: number }
  | { kind: 'nil'; pos: number }
  | { kind: 'bool'; pos: number; value: boolean }
  | { kind: 'number'; pos: number; value: number; isFloat: boolean; text: string }
  | { kind: 'string'; pos: number; value: string }
  | PipeNode;

/** Go's String() of an argument, used in error messages. */
export function argText(a: Arg): string {
  switch (a.kind) {
    case 'field':
      return '.' + a.ident.join('.');
    case 'variable':
      return a.ident.join('.');
    case 'chain':
      return `${a.node.kind === 'pipe' ? `(${pipeText(a.node)})` : argText(a.node)}.${a.field.join('.')}`;
    case 'identifier':
      return a.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.value);
    case 'number':
      return a.text;
    case 'string':
      return JSON.stringify(a.value);
    case 'pipe':
      return `(${pipeText(a)})`;
  }
}

export function pipeText(p: PipeNode): string {
  const decl = p.decl.length ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return decl + p.cmds.map((c) => c.args.map(argText).join(' ')).join(' | ');
}
