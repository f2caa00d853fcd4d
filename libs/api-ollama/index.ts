export * from './ollama-api.module';
