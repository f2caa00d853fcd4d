import type { Llama, LlamaGrammar, LlamaModel, LlamaGrammarEvaluationState } from 'node-llama-cpp';
import { WorkerJobError } from './errors';
import { normalizeJsonSchema } from './json-schema';
import { loadNodeLlamaCpp } from './llama-module';
import type { Constraint } from '@corral/worker-protocol';

const MAX_CACHED_SCHEMAS = 32;

/**
 * Compiled grammars per worker. Compiling a JSON schema to GBNF and parsing it in llama.cpp costs more
 * than a short generation, and clients (structured-output SDKs) repeat the same schema, so the compiled
 * grammar is kept (LRU by schema text). Grammars are immutable; each job gets its own evaluation state.
 */
export class GrammarCache {
  private readonly schemas = new Map<string, Promise<LlamaGrammar>>();
  private json?: Promise<LlamaGrammar>;

  constructor(private readonly llama: Llama) {}

  async evaluationState(
    constraint: Constraint | undefined,
    model: LlamaModel,
  ): Promise<LlamaGrammarEvaluationState | undefined> {
    if (!constraint) return undefined;
    const grammar = await this.grammarFor(constraint);
    const { LlamaGrammarEvaluationState } = await loadNodeLlamaCpp();
    return new LlamaGrammarEvaluationState({ model, grammar });
  }

  private grammarFor(constraint: Constraint): Promise<LlamaGrammar> {
    switch (constraint.type) {
      case 'json':
        this.json ??= this.llama.getGrammarFor('json');
        return this.json;
      case 'json_schema': {
        const key = JSON.stringify(constraint.schema);
        let grammar = this.schemas.get(key);
        if (grammar) {
          this.schemas.delete(key); // re-insert: most recently used last
        } else {
          grammar = this.compileSchema(normalizeJsonSchema(constraint.schema));
          grammar.catch(() => this.schemas.delete(key));
        }
        this.schemas.set(key, grammar);
        while (this.schemas.size > MAX_CACHED_SCHEMAS) {
          const oldest = this.schemas.keys().next().value;
          if (oldest === undefined) break;
          this.schemas.delete(oldest);
        }
        return grammar;
      }
    }
  }

  private async compileSchema(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    try {
      // normalizeJsonSchema rejected what the converter would ignore; what still fails here (e.g. a
      // dangling $ref) is equally the caller's schema, not a worker fault.
      return await this.llama.createGrammarForJsonSchema(
        schema as Parameters<Llama['createGrammarForJsonSchema']>[0],
      );
    } catch (e) {
      throw new WorkerJobError(
        'bad_request',
        `unsupported JSON schema for structured output: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
}
