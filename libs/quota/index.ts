/**
 * Quotas and usage: admission against team and key limits (QuotaService, serving's QUOTA_GATE),
 * the rate-limit headers, the durable usage writer and the admin endpoints. The public surface is
 * what the gateway, the dialects, the CLI and the benchmarks use; see README.md.
 */
export { QuotaModule } from './quota.module';
export { QuotaHeadersInterceptor } from './quota.interceptor';
export { QuotaService, type Admission, type AdmitRequest, type QuotaServiceOptions } from './quota.service';
export type { QuotaStore } from './store';
export { MemoryQuotaStore, type MemoryStoreOptions } from './memory-store';
export { RedisQuotaStore, type RedisStoreOptions } from './redis-store';
export { PolicyCache, type PolicySource } from './policy-cache';
export { LocalPolicyNotifier, RedisPolicyNotifier, type PolicyNotifier } from './policy-notifier';
export type { UsageRow } from './usage/usage.types';
