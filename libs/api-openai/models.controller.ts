import { Controller, Get, Inject, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { isCorralError } from '@corral/common';
import { REGISTRY } from '@corral/core';
import type { ModelRegistry } from '@corral/registry';
import { toOpenAiModel, type OpenAiModel } from './models.mapper';
import { modelNotFound } from './openai.service';
import { Scopes } from '@corral/auth';

@Controller('v1/models')
export class ModelsController {
  constructor(@Inject(REGISTRY) private readonly registry: ModelRegistry) {}

  @Scopes('models:read')
  @Get()
  async list(): Promise<{ object: 'list'; data: OpenAiModel[] }> {
    const models = await this.registry.list();
    return { object: 'list', data: models.map((m) => toOpenAiModel(m.name, m.modified_at)) };
  }

  /** A wildcard, because model ids hold '/' (`myns/tiny:latest`) which a `:id` segment would not match. */
  @Scopes('models:read')
  @Get('*')
  async retrieve(@Req() req: FastifyRequest): Promise<OpenAiModel> {
    const id = (req.params as Record<string, string | undefined>)['*'] ?? '';
    try {
      const model = await this.registry.resolve(id);
      return toOpenAiModel(model.name, model.modifiedAt);
    } catch (e) {
      // OpenAI answers 404 for any id it does not serve, including ones that are not valid names.
      if (
        isCorralError(e) &&
        (e.code === 'model_not_found' || e.code === 'bad_request' || e.code === 'not_found')
      ) {
        throw modelNotFound(id);
      }
      throw e;
    }
  }
}
