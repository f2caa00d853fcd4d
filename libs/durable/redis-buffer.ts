/**
 * Cluster buffer: a Redis Stream. Every gateway XADDs; the one appender (the leader) reads past
 * the acknowledged id and trims what it has written. Durability is Redis's: run it with
 * `appendonly yes` (and `appendfsync everysec` or `always`), as deploy/ does.
 */
import type { Redis } from 'ioredis';
import { parseJsonRecord, type BufferedEntry, type DurableBuffer, type RecordParser } from './buffer';

export interface RedisBufferOptions<R = unknown> {
  redis: Redis;
  /** Key prefix, so tests and several installations can share one Redis. Defaults to `corral:`. */
  prefix?: string;
  /** Reads a stored entry back. Defaults to any JSON object (parseJsonRecord). */
  parse?: RecordParser<R>;
}

/**
 * Moves the cursor forward only (an older position is a no-op), then trims below it; MINID keeps
 * the entry at the cursor itself, which `read` skips with an exclusive range.
 */
const ACK = `local function parse(id)
  local a, b = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(a), tonumber(b)
end
local cur = redis.call('get', KEYS[1])
if cur then
  local a1, b1 = parse(cur)
  local a2, b2 = parse(ARGV[1])
  if a2 < a1 or (a2 == a1 and b2 <= b1) then return 0 end
end
redis.call('set', KEYS[1], ARGV[1])
redis.call('xtrim', KEYS[2], 'MINID', ARGV[1])
return 1`;

export class RedisStreamBuffer<R = unknown> implements DurableBuffer<R> {
  private readonly redis: Redis;
  private readonly parse: RecordParser<R>;
  private readonly stream: string;
  private readonly cursorKey: string;

  constructor(opts: RedisBufferOptions<R>) {
    this.redis = opts.redis;
    this.parse = opts.parse ?? parseJsonRecord;
    const prefix = opts.prefix ?? 'corral:';
    // The key names predate this lib (it began in the audit log); owners differ by prefix.
    this.stream = `${prefix}audit:stream`;
    this.cursorKey = `${prefix}audit:acked`;
  }

  async append(records: R[]): Promise<void> {
    if (records.length === 0) return;
    const multi = this.redis.multi();
    for (const r of records) multi.xadd(this.stream, '*', 'r', JSON.stringify(r));
    const res = await multi.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw failed?.[0] ?? new Error('audit buffer: Redis transaction aborted');
  }

  async read(limit: number): Promise<BufferedEntry<R>[]> {
    const acked = await this.redis.get(this.cursorKey);
    const rows = await this.redis.xrange(this.stream, acked ? `(${acked}` : '-', '+', 'COUNT', limit);
    return rows.map(([id, fields]) => {
      const i = fields.indexOf('r');
      return { position: id, record: i >= 0 ? this.parse(fields[i + 1] ?? '') : null };
    });
  }

  async ack(upTo: BufferedEntry<R>): Promise<void> {
    await this.redis.eval(ACK, 2, this.cursorKey, this.stream, upTo.position);
  }

  async pending(): Promise<number> {
    const acked = await this.redis.get(this.cursorKey);
    const rows = await this.redis.xrange(this.stream, acked ? `(${acked}` : '-', '+');
    return rows.length;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Removes this buffer's keys (tests). */
  async destroy(): Promise<void> {
    await this.redis.del(this.stream, this.cursorKey);
  }
}
