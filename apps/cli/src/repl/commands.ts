/**
 * Parses one REPL line that starts with "/" into a command, with Ollama's command set and
 * messages. Pure: the interactive loop decides what each command does.
 */

export const SHOW_TOPICS = ['info', 'license', 'modelfile', 'parameters', 'system', 'template'] as const;
export type ShowTopic = (typeof SHOW_TOPICS)[number];

export const SET_FLAGS = [
  'verbose',
  'quiet',
  'wordwrap',
  'nowordwrap',
  'history',
  'nohistory',
  'noformat',
  'nothink',
] as const;
export type SetFlag = (typeof SET_FLAGS)[number];

export type ReplCommand =
  | { type: 'set-parameter'; name: string; values: string[] }
  | { type: 'set-system'; text: string }
  /** `/set system """...` without the closing quotes: the rest arrives on later lines. */
  | { type: 'set-system-start'; text: string }
  | { type: 'set-flag'; flag: SetFlag }
  | { type: 'set-think'; level?: string }
  | { type: 'set-format'; format: 'json' }
  | { type: 'show'; topic: ShowTopic }
  | { type: 'save'; name: string }
  | { type: 'load'; name: string }
  | { type: 'clear' }
  | { type: 'bye' }
  | { type: 'help'; topic?: 'set' | 'show' | 'shortcuts' }
  /** Print this text (a usage block or an "Unknown command" line) and carry on. */
  | { type: 'message'; text: string; usage?: 'main' | 'set' | 'show' | 'parameters' };

const TRIPLE = '"""';

function words(line: string): string[] {
  return line.trim().split(/\s+/).filter(Boolean);
}

function parseSet(line: string, args: string[]): ReplCommand {
  const sub = args[1];
  if (!sub) return { type: 'message', text: '', usage: 'set' };
  if ((SET_FLAGS as readonly string[]).includes(sub)) return { type: 'set-flag', flag: sub as SetFlag };
  switch (sub) {
    case 'think':
      return { type: 'set-think', level: args[2] };
    case 'format':
      if (args[2] !== 'json')
        return { type: 'message', text: "Invalid or missing format. For 'json' mode use '/set format json'" };
      return { type: 'set-format', format: 'json' };
    case 'parameter': {
      const name = args[2];
      if (!name || args.length < 4) return { type: 'message', text: '', usage: 'parameters' };
      return { type: 'set-parameter', name, values: args.slice(3) };
    }
    case 'system': {
      // The raw remainder, not the words re-joined: a system prompt keeps its own spacing.
      const rest = line.replace(/^\s*\/set\s+system\b\s?/, '');
      if (!rest.trim()) return { type: 'message', text: '', usage: 'set' };
      if (rest.startsWith(TRIPLE)) {
        const body = rest.slice(TRIPLE.length);
        if (body.endsWith(TRIPLE)) return { type: 'set-system', text: body.slice(0, -TRIPLE.length) };
        return { type: 'set-system-start', text: body };
      }
      const trimmed = rest.trim();
      // `/set system "You are..."`: the quotes delimit, they are not part of the message.
      const unquoted =
        trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
          ? trimmed.slice(1, -1)
          : trimmed;
      return { type: 'set-system', text: unquoted };
    }
    default:
      return { type: 'message', text: `Unknown command '/set ${sub}'. Type /? for help` };
  }
}

/** Parses a line beginning with "/". */
export function parseCommand(line: string): ReplCommand {
  const args = words(line);
  const head = args[0] ?? '';
  switch (head) {
    case '/set':
      return parseSet(line, args);
    case '/show': {
      const topic = args[1];
      if (!topic) return { type: 'message', text: '', usage: 'show' };
      if ((SHOW_TOPICS as readonly string[]).includes(topic))
        return { type: 'show', topic: topic as ShowTopic };
      return { type: 'message', text: `Unknown command '/show ${topic}'. Type /? for help` };
    }
    case '/save':
    case '/load': {
      const verb = head.slice(1) as 'save' | 'load';
      if (args.length !== 2 || !args[1]) return { type: 'message', text: `Usage:\n  /${verb} <modelname>` };
      return { type: verb, name: args[1] };
    }
    case '/clear':
      return { type: 'clear' };
    case '/bye':
    case '/exit':
      return { type: 'bye' };
    case '/?':
    case '/help': {
      const t = args[1]?.replace(/^\//, '');
      if (t === 'set' || t === 'show') return { type: 'help', topic: t };
      if (t === 'shortcut' || t === 'shortcuts') return { type: 'help', topic: 'shortcuts' };
      return { type: 'help' };
    }
    default:
      return { type: 'message', text: `Unknown command '${head}'. Type /? for help` };
  }
}
