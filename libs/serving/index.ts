export * from './run.service';
export * from './stream-writer';
export * from './pipeline';
export * from './metering';
export * from './quota-gate';
export { ServingModule } from './serving.module';
