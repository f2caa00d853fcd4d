/**
 * The tamper-evident audit log: record events (non-blocking), a durable buffer with one appender
 * extending a signed hash chain, verification, retention, search/export, and the Nest module.
 */
export * from './event';
export * from './redact';
export * from './chain';
export * from './signing';
export * from './buffer';
export * from './spool-buffer';
export * from './redis-buffer';
export * from './leader';
export * from './appender';
export * from './service';
export * from './content';
export * from './verify';
export * from './retention';
export * from './search';
export * from './audit-log';
export * from './interceptor';
export * from './access';
export * from './audit.di-tokens';
export { auditFacts, type AuditFacts } from '@corral/core';
export { AuditController } from './audit.controller';
export { AuditModule } from './audit.module';
export { LoopTimer } from './loop-timer';
