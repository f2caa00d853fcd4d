import { Body, Controller, HttpCode, Post, Res, UseInterceptors } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { planChat } from './chat.mapper';
import { planCompletion } from './completion.mapper';
import { ChatRequestSchema } from './dto/chat.dto';
import { CompletionRequestSchema } from './dto/completion.dto';
import { OpenAiService } from './openai.service';
import { parseBody } from './validation';
import { CurrentPrincipal, Scopes, requireScope, type Principal } from '@corral/auth';
import { actorOf } from '@corral/knowledge';
import { QuotaHeadersInterceptor } from '@corral/quota';

/** Generation routes; they write the reply themselves because a stream hijacks the socket. */
@Controller('v1')
@UseInterceptors(QuotaHeadersInterceptor)
export class ChatController {
  constructor(private readonly openai: OpenAiService) {}

  @Scopes('inference')
  @Post('chat/completions')
  @HttpCode(200)
  async chat(
    @Body() body: unknown,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    const req = parseBody(ChatRequestSchema, body);
    const plan = planChat(req);
    const spec = req.knowledge ?? undefined;
    // Grounding reads knowledge bases: the key needs kb:read besides the route's inference.
    if (spec) requireScope(principal, 'kb:read');
    await this.openai.chat(plan, reply, spec ? { spec, actor: actorOf(principal) } : undefined);
  }

  @Scopes('inference')
  @Post('completions')
  @HttpCode(200)
  async completions(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    await this.openai.completion(planCompletion(parseBody(CompletionRequestSchema, body)), reply);
  }
}
