/** DI token for the process's AuditLog (see audit-log.ts). */
export const AUDIT_LOG = Symbol('corral.audit.log');
