export * from './protocol';
export * from './chunk-batch';
export * from './options';
export * from './async-queue';
export * from './worker-link';
export * from './worker-pool';
export * from './scheduler';
export * from './fair-queue';
