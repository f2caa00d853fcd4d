/**
 * A Modelfile TEMPLATE with Ollama's execution rules (ollama/template/template.go):
 * - a template naming neither `.Messages` nor `.Response` gets `{{ .Response }}` appended;
 * - with a prompt and a suffix (fill-in-the-middle) it sees only `.Prompt`/`.Suffix`/`.Response`;
 * - a template that uses `.Messages` is run once with all messages (consecutive messages of one
 *   role merged, system messages also joined into `.System`);
 * - any other ("legacy") template is run once per user turn with `.System`/`.Prompt`/`.Response`,
 *   the outputs concatenated, the last turn cut right after `{{ .Response }}` so the model
 *   continues from there.
 */
import { CorralError } from '@corral/common';
import type { ChatMessage, ToolDef } from '@corral/worker-protocol';
import type { Arg, Node, PipeNode } from './go-template/ast';
import { TemplateExecError, type ExecLimits } from './go-template/exec';
import { TemplateSyntaxError } from './go-template/parser';
import { Template } from './go-template/template';
import { OLLAMA_FUNCS, templateMessage, templateTools, thinkValues, type ThinkSetting } from './ollama-data';

export interface TemplateInput {
  messages?: ChatMessage[];
  tools?: ToolDef[];
  prompt?: string;
  suffix?: string;
  think?: ThinkSetting;
}

const RESPONSE_ACTION: Node = {
  kind: 'action',
  pos: 0,
  pipe: {
    kind: 'pipe',
    pos: 0,
    decl: [],
    isAssign: false,
    cmds: [
      { kind: 'command', pos: 0, text: '.Response', args: [{ kind: 'field', pos: 0, ident: ['Response'] }] },
    ],
  },
};

/**
 * Parses a Go template with Ollama's functions. Throws CorralError('invalid_modelfile') whose
 * message names the line and column, e.g. `template: :3:12: unexpected {{end}}`.
 */
export function parseTemplate(src: string): Template {
  try {
    return Template.parse(src, { funcs: OLLAMA_FUNCS });
  } catch (e) {
    if (e instanceof TemplateSyntaxError) throw new CorralError('invalid_modelfile', e.message);
    throw e;
  }
}

export class OllamaTemplate {
  /** Lower-cased field and variable names the template mentions (Ollama's Template.Vars). */
  readonly vars: readonly string[];
  private readonly tmpl: Template;

  private constructor(
    readonly source: string,
    parsed: Template,
  ) {
    this.vars = identifiers(parsed);
    this.tmpl =
      this.vars.includes('messages') || this.vars.includes('response')
        ? parsed
        : parsed.withRoot([...parsed.root, RESPONSE_ACTION]);
  }

  /** Throws CorralError('invalid_modelfile') for a template Go would reject. */
  static parse(src: string): OllamaTemplate {
    return new OllamaTemplate(src, parseTemplate(src));
  }

  /** Whether the template supports fill-in-the-middle (Ollama's "insert" capability). */
  get supportsSuffix(): boolean {
    return this.vars.includes('suffix');
  }

  get usesMessages(): boolean {
    return this.vars.includes('messages');
  }

  /** Renders the prompt. Execution errors become CorralError('bad_request') naming line and column. */
  execute(input: TemplateInput, limits?: ExecLimits): string {
    try {
      return this.run(input, limits);
    } catch (e) {
      if (e instanceof TemplateExecError) throw new CorralError('bad_request', e.message);
      throw e;
    }
  }

  private run(input: TemplateInput, limits?: ExecLimits): string {
    const think = thinkValues(input.think);
    const { system, messages } = collate(input.messages ?? []);
    if (input.prompt && input.suffix) {
      return this.tmpl.execute(
        { Prompt: input.prompt, Suffix: input.suffix, Response: '', ...think },
        limits,
      );
    }
    if (this.usesMessages) {
      return this.tmpl.execute(
        {
          System: system,
          Messages: messages.map(templateMessage),
          Tools: templateTools(input.tools),
          Response: '',
          ...think,
        },
        limits,
      );
    }
    let out = '';
    let sys = '';
    let prompt = '';
    let response = '';
    const turn = (): void => {
      out += this.tmpl.execute({ System: sys, Prompt: prompt, Response: response, ...think }, limits);
      sys = prompt = response = '';
    };
    for (const m of messages) {
      if (m.role === 'system') {
        if (prompt || response) turn();
        sys = m.content;
      } else if (m.role === 'user') {
        if (response) turn();
        prompt = m.content;
      } else if (m.role === 'assistant') {
        response = m.content;
      }
    }
    const last = this.tmpl.withRoot(cutAfterResponse(this.tmpl.root));
    return out + last.execute({ System: sys, Prompt: prompt, Response: response, ...think }, limits);
  }
}

/** Ollama's collate: merge consecutive same-role messages (not tool results), gather system text. */
export function collate(msgs: ChatMessage[]): { system: string; messages: ChatMessage[] } {
  const system: string[] = [];
  const out: ChatMessage[] = [];
  for (const m of msgs) {
    if (m.role === 'system') system.push(m.content);
    const prev = out[out.length - 1];
    if (prev && prev.role === m.role && m.role !== 'tool')
      out[out.length - 1] = { ...prev, content: `${prev.content}\n\n${m.content}` };
    else out.push({ ...m });
  }
  return { system: system.join('\n\n'), messages: out };
}

/** Ollama's Identifiers: names in fields and variables, not descending into chained terms. */
function identifiers(t: Template): string[] {
  const names = new Set<string>();
  const pipe = (p: PipeNode | null): void => p?.cmds.forEach((c) => c.args.forEach(arg));
  const arg = (a: Arg): void => {
    if (a.kind === 'field' || a.kind === 'variable') a.ident.forEach((n) => names.add(n.toLowerCase()));
    else if (a.kind === 'pipe') pipe(a);
  };
  const list = (nodes: readonly Node[]): void =>
    nodes.forEach((n) => {
      if (n.kind === 'action' || n.kind === 'template') pipe(n.pipe);
      else if (n.kind === 'if' || n.kind === 'range' || n.kind === 'with') {
        pipe(n.pipe);
        list(n.list);
        if (n.elseList) list(n.elseList);
      }
    });
  list(t.root);
  for (const d of t.definitions.values()) list(d);
  return [...names].sort();
}

/**
 * Ollama's deleteNode for the last legacy turn: keep everything up to the first `.Response` field
 * (in action pipelines, not in if/range/with conditions) and drop every node after it. A pipeline
 * stage left with no arguments drops its whole action, as Ollama's does.
 */
export function cutAfterResponse(root: readonly Node[]): Node[] {
  let cut = false;
  const walkArgs = (args: Arg[]): Arg[] => {
    const out: Arg[] = [];
    for (const a of args) {
      if (cut) continue;
      if (a.kind === 'field' && a.ident.includes('Response')) {
        cut = true;
        out.push(a);
      } else if (a.kind === 'pipe') {
        const p = walkPipe(a);
        if (p) out.push(p);
      } else out.push(a);
    }
    return out;
  };
  const walkPipe = (p: PipeNode): PipeNode | null => {
    if (cut) return null;
    const cmds = [];
    for (const c of p.cmds) {
      const args = walkArgs(c.args);
      if (args.length === 0) return null;
      cmds.push({ ...c, args });
    }
    return cmds.length ? { ...p, cmds } : null;
  };
  const walkList = (nodes: readonly Node[]): Node[] => {
    const out: Node[] = [];
    for (const n of nodes) {
      if (cut) continue;
      if (n.kind === 'action') {
        const pipe = walkPipe(n.pipe);
        if (pipe) out.push({ ...n, pipe });
      } else if (n.kind === 'if' || n.kind === 'range' || n.kind === 'with') {
        const list = walkList(n.list);
        const elseList = n.elseList && !cut ? walkList(n.elseList) : null;
        out.push({ ...n, list, elseList });
      } else out.push(n);
    }
    return out;
  };
  return walkList(root);
}
