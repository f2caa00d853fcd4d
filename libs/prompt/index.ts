/**
 * Prompt building: Ollama-exact rendering of Modelfile TEMPLATEs (Go text/template), the per-request
 * choice between gateway-rendered text and worker-rendered GGUF chat templates, and parsing of
 * tool calls and reasoning out of model output.
 */
export {
  buildGeneratePrompt,
  buildChatPrompt,
  fallbackTranscript,
  type GeneratePromptRequest,
  type ChatPromptRequest,
} from './build';
export { OllamaTemplate, parseTemplate, collate, type TemplateInput } from './ollama-template';
export {
  OLLAMA_FUNCS,
  thinkValues,
  templateMessage,
  templateTool,
  templateTools,
  type ThinkSetting,
  type ThinkValues,
} from './ollama-data';
export {
  parseToolCalls,
  extractToolCalls,
  ToolCallDetector,
  type ExtractedToolCalls,
  type DetectorState,
} from './tool-calls';
export { splitThinking, ThinkingSplitter, type SplitThinking, type SplitThinkingOptions } from './thinking';
export {
  Template,
  TemplateSyntaxError,
  TemplateExecError,
  type TemplateOptions,
  type ExecLimits,
  type GoFunc,
} from './go-template';
