import { Module } from '@nestjs/common';
import { ServingModule } from '@corral/serving';
import { KnowledgeModule } from '@corral/knowledge';
import { InferenceController } from './inference.controller';
import { ModelsController } from './models.controller';
import { GenerationService } from './generation.service';
import { EmbeddingService } from './embedding.service';

/** Ollama's native API (/api/*). */
@Module({
  imports: [ServingModule, KnowledgeModule],
  controllers: [InferenceController, ModelsController],
  providers: [GenerationService, EmbeddingService],
})
export class OllamaApiModule {}
