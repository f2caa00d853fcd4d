/**
 * State of an interactive `corral run` session: the conversation (sent whole each turn, since
 * the server keeps no chat state), session options and modes. Applying a command returns the text
 * to show, so the terminal loop only does I/O.
 */
import type { ChatRequest, CreateRequest, Message, Think } from '../api-types';
import type { SetFlag } from './commands';
import { applyParameter, ParameterError } from './parameters';

export interface SessionInit {
  model: string;
  format?: string | object;
  keepAlive?: string | number;
  think?: Think;
  verbose?: boolean;
  wordWrap?: boolean;
}

export class ReplSession {
  model: string;
  messages: Message[] = [];
  options: Record<string, unknown> = {};
  system?: string;
  format?: string | object;
  keepAlive?: string | number;
  think?: Think;
  verbose: boolean;
  wordWrap: boolean;
  history = true;

  constructor(init: SessionInit) {
    this.model = init.model;
    this.format = init.format;
    this.keepAlive = init.keepAlive;
    this.think = init.think;
    this.verbose = init.verbose ?? false;
    this.wordWrap = init.wordWrap ?? true;
  }

  /** `/set parameter`: returns Ollama's confirmation or its "Couldn't set parameter" line. */
  setParameter(name: string, values: string[]): string {
    try {
      applyParameter(this.options, name, values);
    } catch (err) {
      if (err instanceof ParameterError) return `Couldn't set parameter: ${JSON.stringify(err.message)}`;
      throw err;
    }
    return `Set parameter '${name}' to '${values.join(', ')}'`;
  }

  /** A new system message replaces a trailing one rather than stacking up. */
  setSystem(text: string): string {
    this.system = text;
    const msg: Message = { role: 'system', content: text };
    const last = this.messages[this.messages.length - 1];
    if (last?.role === 'system') this.messages[this.messages.length - 1] = msg;
    else this.messages.push(msg);
    return 'Set system message.';
  }

  setFlag(flag: SetFlag): string {
    switch (flag) {
      case 'verbose':
        this.verbose = true;
        return "Set 'verbose' mode.";
      case 'quiet':
        this.verbose = false;
        return "Set 'quiet' mode.";
      case 'wordwrap':
        this.wordWrap = true;
        return "Set 'wordwrap' mode.";
      case 'nowordwrap':
        this.wordWrap = false;
        return "Set 'nowordwrap' mode.";
      case 'history':
        this.history = true;
        return '';
      case 'nohistory':
        this.history = false;
        return '';
      case 'noformat':
        this.format = undefined;
        return 'Disabled format.';
      case 'nothink':
        this.think = false;
        return "Set 'nothink' mode.";
    }
  }

  setThink(level?: string): string {
    if (level && level !== 'true') {
      this.think = level as Think;
      return `Set 'think' mode to '${level}'.`;
    }
    this.think = true;
    return "Set 'think' mode.";
  }

  setFormat(format: 'json'): string {
    this.format = format;
    return `Set format to '${format}' mode.`;
  }

  /** `/clear` keeps the system message: it is a setting, not part of the conversation. */
  clear(): string {
    this.messages = this.system ? [{ role: 'system', content: this.system }] : [];
    return 'Cleared session context';
  }

  /** `/load`: another model, a fresh conversation, the same options. */
  load(model: string): void {
    this.model = model;
    this.messages = [];
  }

  /** Adds the user's turn and returns the request for it. */
  userTurn(text: string): ChatRequest {
    this.messages.push({ role: 'user', content: text });
    return this.chatRequest();
  }

  chatRequest(): ChatRequest {
    const req: ChatRequest = { model: this.model, messages: [...this.messages], stream: true };
    if (this.format) req.format = this.format;
    if (Object.keys(this.options).length > 0) req.options = { ...this.options };
    if (this.keepAlive !== undefined) req.keep_alive = this.keepAlive;
    if (this.think !== undefined) req.think = this.think;
    return req;
  }

  /** Records the answer; an interrupted turn (no answer) drops the unanswered question. */
  assistantTurn(content: string | undefined, thinking?: string): void {
    if (content === undefined) {
      if (this.messages[this.messages.length - 1]?.role === 'user') this.messages.pop();
      return;
    }
    const msg: Message = { role: 'assistant', content };
    if (thinking) msg.thinking = thinking;
    this.messages.push(msg);
  }

  /**
   * `/save NAME`: a model derived from the one running, carrying this session's system message,
   * parameters and conversation. Ollama derives from the parent model instead, which loses the
   * running model's own template and settings; deriving from the model itself keeps them.
   */
  saveRequest(name: string): CreateRequest {
    const req: CreateRequest = { model: name, from: this.model };
    if (this.system) req.system = this.system;
    if (Object.keys(this.options).length > 0) req.parameters = { ...this.options };
    if (this.messages.length > 0)
      req.messages = this.messages.map(({ role, content }) => ({ role, content }));
    return req;
  }
}
