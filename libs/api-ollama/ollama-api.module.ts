import { Module } from '@nestjs/common';
import { MeteringService, RunService } from '@corral/serving';
import { InferenceController } from './inference.controller';
import { ModelsController } from './models.controller';
import { GenerationService } from './generation.service';
import { EmbeddingService } from './embedding.service';

/** Ollama's native API (/api/*). */
@Module({
  controllers: [InferenceController, ModelsController],
  providers: [RunService, MeteringService, GenerationService, EmbeddingService],
})
export class OllamaApiModule {}
