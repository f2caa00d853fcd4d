/**
 * The tamper-evident audit log: record events (non-blocking), a durable buffer with one appender
 * extending a signed hash chain, verification, retention, search/export, and the Nest module.
 * The public surface is what the gateway, the CLI, benchmarks and tests use; see README.md.
 */
export { AuditModule } from './audit.module';
export { AuditInterceptor } from './interceptor';
export { openAuditLog, type AuditLog } from './audit-log';
export { verifyAuditLog, type VerifyReport } from './verify';
export { loadSigningKey, retiredKeysDir, rotateSigningKey, signingKeyPath } from './signing';
export type { AuditEventDto, AuditPage } from './search';
export type { AuditEventInput } from './event';
