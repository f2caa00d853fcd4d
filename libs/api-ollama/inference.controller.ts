import { Body, Controller, Get, HttpCode, Post, Res, UseInterceptors } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { parseBody } from './dto/validate';
import { ChatBody, EmbedBody, GenerateBody, LegacyEmbeddingsBody } from './dto/requests';
import { GenerationService } from './generation.service';
import { EmbeddingService } from './embedding.service';
import { RunService } from '@corral/serving';
import { CurrentPrincipal, Scopes, requireScope, type Principal } from '@corral/auth';
import { actorOf } from '@corral/knowledge';
import { QuotaHeadersInterceptor } from '@corral/quota';

@Controller('api')
@UseInterceptors(QuotaHeadersInterceptor)
export class InferenceController {
  constructor(
    private readonly generation: GenerationService,
    private readonly embeddings: EmbeddingService,
    private readonly runs: RunService,
  ) {}

  @Scopes('inference')
  @Post('generate')
  @HttpCode(200)
  async generate(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    await this.generation.generate(parseBody(GenerateBody, body), reply);
  }

  @Scopes('inference')
  @Post('chat')
  @HttpCode(200)
  async chat(
    @Body() body: unknown,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    const req = parseBody(ChatBody, body);
    // Grounding reads knowledge bases: the key needs kb:read besides the route's inference.
    if (req.knowledge) requireScope(principal, 'kb:read');
    await this.generation.chat(req, reply, req.knowledge ? actorOf(principal) : undefined);
  }

  @Scopes('embeddings')
  @Post('embed')
  @HttpCode(200)
  embed(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.embeddings.embed(parseBody(EmbedBody, body), reply);
  }

  @Scopes('embeddings')
  @Post('embeddings')
  @HttpCode(200)
  legacyEmbeddings(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.embeddings.legacy(parseBody(LegacyEmbeddingsBody, body), reply);
  }

  @Scopes('models:read')
  @Get('ps')
  async ps() {
    // In cluster mode: every worker's models (from their heartbeats), not only this gateway's.
    const running = await this.runs.ps();
    return {
      models: running.map((m) => ({
        name: m.name,
        model: m.name,
        size: m.size,
        digest: m.digest.replace(/^sha256:/, ''),
        details: m.details,
        expires_at: m.expiresAt.toISOString(),
        size_vram: m.sizeVram,
        context_length: m.contextLength,
      })),
    };
  }
}
