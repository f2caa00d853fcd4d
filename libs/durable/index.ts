/**
 * Durable buffers, the leader lock and the drain loop: the infrastructure under the audit log and
 * the usage writer (one writer per installation, fed off the request path). Imports nothing of
 * @corral/*.
 */
export { parseJsonRecord, type BufferedEntry, type DurableBuffer, type RecordParser } from './buffer';
export { SpoolBuffer, type SpoolOptions } from './spool-buffer';
export { RedisStreamBuffer, type RedisBufferOptions } from './redis-buffer';
export { LocalLeader, RedisLeader, type LeaderLock, type RedisLeaderOptions } from './leader';
export { DrainLoop, type DrainLoopOptions } from './drain-loop';
export { fsyncDir } from './fsync';
