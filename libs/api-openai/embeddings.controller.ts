import { Body, Controller, HttpCode, Post, Res, UseInterceptors } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { EmbeddingRequestSchema } from './dto/embedding.dto';
import type { EmbeddingList } from './embedding.mapper';
import { OpenAiService } from './openai.service';
import { parseBody } from './validation';
import { Scopes } from '@corral/auth';
import { QuotaHeadersInterceptor } from '@corral/quota';

@Controller('v1')
@UseInterceptors(QuotaHeadersInterceptor)
export class EmbeddingsController {
  constructor(private readonly openai: OpenAiService) {}

  @Scopes('embeddings')
  @Post('embeddings')
  @HttpCode(200)
  async embeddings(
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EmbeddingList> {
    return this.openai.embeddings(parseBody(EmbeddingRequestSchema, body), reply);
  }
}
