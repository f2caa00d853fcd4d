import { Module } from '@nestjs/common';
import { ServingModule } from '@corral/serving';
import { KnowledgeModule } from '@corral/knowledge';
import { ChatController } from './chat.controller';
import { EmbeddingsController } from './embeddings.controller';
import { ModelsController } from './models.controller';
import { OpenAiService } from './openai.service';

/** OpenAI's API under /v1 (chat, completions, embeddings, models), over the shared serving layer. */
@Module({
  imports: [ServingModule, KnowledgeModule],
  controllers: [ChatController, EmbeddingsController, ModelsController],
  providers: [OpenAiService],
})
export class OpenAiApiModule {}
