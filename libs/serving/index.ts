export * from './tokens';
export * from './run.service';
export * from './ndjson';
export * from './run-observers';
export * from './metering';
