import { Module } from '@nestjs/common';
import { ServingModule } from '@corral/serving';
import { ChatController } from './chat.controller';
import { EmbeddingsController } from './embeddings.controller';
import { ModelsController } from './models.controller';
import { OpenAiService } from './openai.service';

/** OpenAI's API under /v1 (chat, completions, embeddings, models), over the shared serving layer. */
@Module({
  imports: [ServingModule],
  controllers: [ChatController, EmbeddingsController, ModelsController],
  providers: [OpenAiService],
})
export class OpenAiApiModule {}
