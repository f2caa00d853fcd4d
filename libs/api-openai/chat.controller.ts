import { Body, Controller, HttpCode, Post, Res, UseInterceptors } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { planChat } from './chat.mapper';
import { planCompletion } from './completion.mapper';
import { ChatRequestSchema } from './dto/chat.dto';
import { CompletionRequestSchema } from './dto/completion.dto';
import { OpenAiService } from './openai.service';
import { parseBody } from './validation';
import { CurrentPrincipal, Scopes, type Principal, type Scope } from '@corral/auth';
import { actorOf } from '@corral/knowledge';
import { CorralError } from '@corral/common';
import { QuotaHeadersInterceptor } from '@corral/quota';

/** A scope the request needs beyond the route's own (which the guard checked): 403 without it. */
function requireScope(principal: Principal, scope: Scope): void {
  if (principal.scopes.has(scope)) return;
  throw new CorralError(
    'forbidden',
    principal.kind === 'anonymous'
      ? `anonymous loopback access never has the '${scope}' scope; send an API key`
      : `this API key lacks the '${scope}' scope`,
  );
}

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
