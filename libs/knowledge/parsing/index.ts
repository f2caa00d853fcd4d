/** Document parsing for knowledge bases: bytes in, structured blocks out. */
export {
  DEFAULT_PARSE_LIMITS,
  ParseError,
  type Block,
  type DocType,
  type ParsedDocument,
  type ParseFailure,
  type ParseLimits,
} from './parsing.types';
export { sniffType } from './sniff';
export { parseDocument } from './parse';
export { ParsePool, type ParsePoolOptions } from './pool';
