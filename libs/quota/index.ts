export * from './policy';
export * from './calendar';
export * from './store';
export { MemoryQuotaStore, type MemoryStoreOptions } from './memory-store';
export { RedisQuotaStore, type RedisStoreOptions } from './redis-store';
export * from './headers';
export { FairQueue, type FairShare, type Priority } from '@corral/dispatch';
export * from './policy-notifier';
export * from './policy-cache';
export { QuotaPolicyRepository } from './policy.repository';
export * from './quota.service';
export * from './quota.interceptor';
export * from './quota.di-tokens';
export * from './usage/usage.types';
export { UsageRepository, usageCsv } from './usage/usage.repository';
export {
  DurableUsageWriter,
  type DurableUsageWriterOptions,
  toBufferRecord,
  fromBufferRecord,
} from './usage/usage-writer';
export { UsageObserver, usageRecordOf } from './usage/usage-observer';
export { QuotaModule, USAGE_SPOOL_DIR, USAGE_REDIS_PREFIX } from './quota.module';
