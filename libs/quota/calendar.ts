/**
 * UTC calendar arithmetic shared by the in-memory store and (ported line for line) the Redis Lua
 * script, so both agree on which day and month a token is charged to and until when a budget is
 * spent. Days-from-civil after Howard Hinnant's algorithm: no Date, because Lua has none.
 */
const DAY_MS = 86_400_000;

export interface CivilDate {
  year: number;
  month: number; // 1-12
  day: number; // 1-31
}

export function civilFromDays(z0: number): CivilDate {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export interface Periods {
  /** e.g. 20261126 */
  day: number;
  /** e.g. 202611 */
  month: number;
  /** Epoch ms of the next UTC midnight. */
  dayEndsAt: number;
  /** Epoch ms of the first instant of the next UTC month. */
  monthEndsAt: number;
}

export function periodsAt(nowMs: number): Periods {
  const days = Math.floor(nowMs / DAY_MS);
  const c = civilFromDays(days);
  const ny = c.month === 12 ? c.year + 1 : c.year;
  const nm = c.month === 12 ? 1 : c.month + 1;
  return {
    day: c.year * 10000 + c.month * 100 + c.day,
    month: c.year * 100 + c.month,
    dayEndsAt: (days + 1) * DAY_MS,
    monthEndsAt: daysFromCivil(ny, nm, 1) * DAY_MS,
  };
}
