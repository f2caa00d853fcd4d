/** Nest injection tokens for the gateway's singletons (built in apps/gateway/src/server.ts). */
export const CONFIG = Symbol('CorralConfig');
export const REGISTRY = Symbol('ModelRegistry');
export const SCHEDULER = Symbol('Scheduler');
export const DATABASE = Symbol('Database');
