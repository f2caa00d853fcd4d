/** Conversations rendered through the real templates in the spec. */
import type { ChatMessage, ToolDef } from '@corral/worker-protocol';

export const WEATHER_TOOLS: ToolDef[] = [
  {
    name: 'get_weather',
    description: 'Get the current weather for a city',
    parameters: {
      type: 'object',
      required: ['city'],
      properties: {
        city: { type: 'string', description: 'City name, e.g. "Paris"' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'Unit <C|F> & more' },
        days: { type: ['integer', 'null'], description: 'Forecast days' },
      },
    },
  },
  { name: 'get_time', description: 'Current time', parameters: { type: 'object', properties: {} } },
];

/** system, user, assistant tool call, tool result, assistant answer, user follow-up. */
export const TOOL_CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Weather in Paris?' },
  {
    role: 'assistant',
    content: '',
    toolCalls: [{ name: 'get_weather', arguments: { unit: 'celsius', city: 'Paris' } }],
  },
  { role: 'tool', content: '{"temp": 21}', toolName: 'get_weather' },
  { role: 'assistant', content: 'It is 21°C in Paris.' },
  { role: 'user', content: 'And in Rome?' },
];

/** Two user turns back to back (merged by Ollama's collate) and a plain exchange. */
export const PLAIN_CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'Be nice.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello! How can I help?' },
  { role: 'user', content: 'Tell me a joke.' },
  { role: 'user', content: 'A short one.' },
];
