export { Template, type TemplateOptions } from './template';
export { TemplateSyntaxError } from './parser';
export { TemplateExecError, type ExecLimits } from './exec';
export { BUILTINS, type GoFunc } from './builtins';
export type { Node, PipeNode, Arg, CommandNode } from './ast';
export { fmtV, goJson, quoteGo } from './format';
export { sprintf } from './printf';
export { GoStruct, OrderedObject, withStringer, withJson, withTypeName, isTrue } from './values';
