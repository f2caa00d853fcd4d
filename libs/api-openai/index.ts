export { OpenAiApiModule } from './openai-api.module';
export { OpenAiService } from './openai.service';
