export { OllamaApiModule } from './ollama-api.module';
