// Every test helper, for unit and integration specs, e2e tests and bench/ alike (@corral/testing).
export * from './server';
export * from './models';
export * from './http';
export * from './db';
export * from './audit-events';
export * from './tcp-proxy';
export * from './fake-server';
export * from './tiny-server';
export * from './worker-host';
