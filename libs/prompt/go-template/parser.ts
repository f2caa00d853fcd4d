/**
 * Parser for Go text/template, a port of text/template/parse/parse.go: same grammar, same scoping of
 * variables, same checks (undefined variables and functions, break outside range, non-executable
 * pipeline stages) and the same error wording, with line and column added.
 */
import type { Arg, CommandNode, Node, PipeNode } from './ast';
import type { Item } from './lexer';
import { TokenReader } from './tokens';
import { argTextShort, parseNumber, unquoteGo } from './literals';

export { TemplateSyntaxError } from './tokens';

export interface ParsedTemplate {
  root: Node[];
  /** `define`d and `block` templates by name. */
  defs: Map<string, Node[]>;
}

const OPERAND_START = new Set<Item['type']>([
  'bool',
  'charConstant',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'leftParen',
]);

type ElseMarker = { kind: 'else'; pos: number };
type EndMarker = { kind: 'end'; pos: number };

export function parse(src: string, funcs: ReadonlySet<string>): ParsedTemplate {
  return new Parser(src, funcs).parse();
}

class Parser extends TokenReader {
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private readonly defs = new Map<string, Node[]>();

  constructor(
    src: string,
    private readonly funcs: ReadonlySet<string>,
  ) {
    super(src);
  }

  parse(): ParsedTemplate {
    const root: Node[] = [];
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const save = this.i;
        this.next();
        const kw = this.nextNonSpace();
        if (kw.type === 'keyword' && kw.val === 'define') {
          this.parseDefinition();
          continue;
        }
        this.i = save;
      }
      const n = this.textOrAction();
      if (n.kind === 'end' || n.kind === 'else') this.fail(`unexpected {{${n.kind}}}`, n.pos);
      root.push(n);
    }
    return { root, defs: this.defs };
  }

  // ---- structure ---------------------------------------------------------------------------

  private parseDefinition(): void {
    const context = 'define clause';
    const nameItem = this.nextNonSpace();
    if (nameItem.type !== 'string' && nameItem.type !== 'rawString') this.unexpected(nameItem, context);
    const name = this.unquote(nameItem);
    this.expect('rightDelim', context);
    const outerVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    if (end.kind !== 'end') this.fail(`unexpected {{${end.kind}}} in ${context}`, end.pos);
    this.vars = outerVars;
    this.defs.set(name, list);
  }

  private itemList(): [Node[], ElseMarker | EndMarker] {
    const list: Node[] = [];
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (n.kind === 'end' || n.kind === 'else') return [list, n];
      list.push(n);
    }
    this.fail('unexpected EOF', this.peek().pos);
  }

  private textOrAction(): Node | ElseMarker | EndMarker {
    const it = this.nextNonSpace();
    if (it.type === 'text') return { kind: 'text', pos: it.pos, text: it.val };
    if (it.type === 'leftDelim') return this.action();
    this.unexpected(it, 'input');
  }

  private action(): Node | ElseMarker | EndMarker {
    const it = this.nextNonSpace();
    if (it.type === 'keyword') {
      switch (it.val) {
        case 'block':
          return this.blockControl();
        case 'break':
        case 'continue': {
          const close = this.nextNonSpace();
          if (close.type !== 'rightDelim') this.unexpected(close, `{{${it.val}}}`);
          if (this.rangeDepth === 0) this.fail(`{{${it.val}}} outside {{range}}`, it.pos);
          return { kind: it.val, pos: it.pos };
        }
        case 'else': {
          const peek = this.peekNonSpace();
          if (peek.type === 'keyword' && (peek.val === 'if' || peek.val === 'with'))
            return { kind: 'else', pos: it.pos };
          this.expect('rightDelim', 'else');
          return { kind: 'else', pos: it.pos };
        }
        case 'end':
          this.expect('rightDelim', 'end');
          return { kind: 'end', pos: it.pos };
        case 'if':
        case 'range':
        case 'with':
          return this.control(it.val, it.pos);
        case 'template':
          return this.templateControl();
      }
    }
    this.backup();
    return { kind: 'action', pos: it.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private control(context: 'if' | 'range' | 'with', pos: number): Node {
    const varsMark = this.vars.length;
    const pipe = this.pipeline(context, 'rightDelim');
    if (context === 'range') this.rangeDepth++;
    const [list, next] = this.itemList();
    if (context === 'range') this.rangeDepth--;
    let elseList: Node[] | null = null;
    if (next.kind === 'else') {
      const peek = this.peek();
      if (peek.type === 'keyword' && peek.val === context && context !== 'range') {
        this.next();
        elseList = [this.control(context, peek.pos)];
      } else {
        const [l, end] = this.itemList();
        if (end.kind !== 'end') this.fail('expected end; found {{else}}', end.pos);
        elseList = l;
      }
    }
    this.vars.length = varsMark;
    return { kind: context, pos, pipe, list, elseList };
  }

  private parseTemplateName(it: Item, context: string): string {
    if (it.type !== 'string' && it.type !== 'rawString') this.unexpected(it, context);
    return this.unquote(it);
  }

  private templateControl(): Node {
    const context = 'template clause';
    const nameItem = this.nextNonSpace();
    const name = this.parseTemplateName(nameItem, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { kind: 'template', pos: nameItem.pos, name, pipe };
  }

  private blockControl(): Node {
    const context = 'block clause';
    const nameItem = this.nextNonSpace();
    const name = this.parseTemplateName(nameItem, context);
    const pipe = this.pipeline(context, 'rightDelim');
    const outerVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    if (end.kind !== 'end') this.fail(`unexpected {{else}} in ${context}`, end.pos);
    this.vars = outerVars;
    this.defs.set(name, list);
    return { kind: 'template', pos: nameItem.pos, name, pipe };
  }

  // ---- pipelines ---------------------------------------------------------------------------

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const pipe: PipeNode = {
      kind: 'pipe',
      pos: this.peekNonSpace().pos,
      decl: [],
      isAssign: false,
      cmds: [],
    };
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      const save = this.i;
      this.nextNonSpace();
      const next = this.peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(v.val);
        // Go also registers an assigned name here; assigning an undeclared one fails only when run.
        this.vars.push(v.val);
        break;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push(v.val);
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = this.peekNonSpace();
          if (p.type === 'variable' || p.type === 'rightDelim' || p.type === 'rightParen') continue;
          this.fail('range can only initialize variables', p.pos);
        }
        this.fail(`too many declarations in ${context}`, next.pos);
      }
      this.i = save;
      break;
    }
    for (;;) {
      const it = this.nextNonSpace();
      if (it.type === end) {
        this.checkPipeline(pipe, context, it.pos);
        return pipe;
      }
      if (!OPERAND_START.has(it.type)) this.unexpected(it, context);
      this.backup();
      pipe.cmds.push(this.command());
    }
  }

  private checkPipeline(pipe: PipeNode, context: string, pos: number): void {
    if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, pos);
    pipe.cmds.slice(1).forEach((c, i) => {
      const k = c.args[0]?.kind;
      if (k === 'bool' || k === 'dot' || k === 'nil' || k === 'number' || k === 'string') {
        this.fail(`non executable command in pipeline stage ${i + 2}`, c.pos);
      }
    });
  }

  private command(): CommandNode {
    const start = this.peekNonSpace().pos;
    const cmd: CommandNode = { kind: 'command', pos: start, args: [], text: '' };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const it = this.next();
      if (it.type === 'space') continue;
      if (it.type === 'rightDelim' || it.type === 'rightParen') this.backup();
      else if (it.type !== 'pipe') this.unexpected(it, 'operand');
      cmd.text = this.src.slice(start, it.type === 'pipe' ? it.pos : this.peek().pos).trim();
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command', start);
    return cmd;
  }

  private operand(): Arg | null {
    const node = this.term();
    if (!node) return null;
    if (this.peek().type !== 'field') return node;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    if (node.kind === 'field' || node.kind === 'variable')
      return { ...node, ident: [...node.ident, ...fields] };
    if (node.kind === 'chain' || node.kind === 'identifier' || node.kind === 'pipe') {
      return { kind: 'chain', pos: node.pos, node, field: fields };
    }
    this.fail(`unexpected . after term "${argTextShort(node)}"`, node.pos);
  }

  private term(): Arg | null {
    const it = this.nextNonSpace();
    switch (it.type) {
      case 'identifier':
        if (!this.funcs.has(it.val)) this.fail(`function "${it.val}" not defined`, it.pos);
        return { kind: 'identifier', pos: it.pos, name: it.val };
      case 'dot':
        return { kind: 'dot', pos: it.pos };
      case 'nil':
        return { kind: 'nil', pos: it.pos };
      case 'variable':
        return this.useVar(it);
      case 'field':
        return { kind: 'field', pos: it.pos, ident: [it.val.slice(1)] };
      case 'bool':
        return { kind: 'bool', pos: it.pos, value: it.val === 'true' };
      case 'charConstant': {
        const s = unquoteGo(it.val);
        if (s === null || [...s].length !== 1) this.fail(`malformed character constant: ${it.val}`, it.pos);
        return { kind: 'number', pos: it.pos, value: s.codePointAt(0) ?? 0, isFloat: false, text: it.val };
      }
      case 'number':
        return this.number(it);
      case 'string':
      case 'rawString':
        return { kind: 'string', pos: it.pos, value: this.unquote(it) };
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'assign':
      case 'char':
      case 'declare':
      case 'eof':
      case 'error':
      case 'keyword':
      case 'leftDelim':
      case 'pipe':
      case 'rightDelim':
      case 'rightParen':
      case 'space':
      case 'text':
        this.backup();
        return null;
    }
  }

  private number(it: Item): Arg {
    const n = parseNumber(it.val);
    if (typeof n === 'string') this.fail(n, it.pos);
    return { kind: 'number', pos: it.pos, ...n };
  }

  private useVar(it: Item): Arg {
    const ident = it.val.split('.');
    const name = ident[0] ?? it.val;
    if (!this.vars.includes(name)) this.fail(`undefined variable "${name}"`, it.pos);
    return { kind: 'variable', pos: it.pos, ident };
  }

  private unquote(it: Item): string {
    if (it.type === 'rawString') return it.val.slice(1, -1).replace(/\r/g, '');
    const s = unquoteGo(it.val);
    if (s === null) this.fail('invalid syntax', it.pos);
    return s;
  }
}
