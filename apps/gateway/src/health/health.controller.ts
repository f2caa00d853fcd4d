import { Controller, Get, Header } from '@nestjs/common';
import { Public } from '@corral/common';
import { VERSION } from '../version';

/**
 * Liveness and version: public, as Ollama's clients probe them before anything else. Fastify answers
 * HEAD for every GET route by itself, which gives Ollama's `HEAD /`.
 */
@Controller()
export class HealthController {
  @Public()
  @Get()
  @Header('content-type', 'text/plain; charset=utf-8')
  root(): string {
    return 'Ollama is running';
  }

  @Public()
  @Get('api/version')
  version(): { version: string } {
    return { version: VERSION };
  }
}
