/**
 * The waits of a background drain loop (the audit appender, the usage writer): an idle poll that a
 * local `kick()` cuts short — a kick while the loop is busy is remembered, so the next sleep returns
 * at once — and a failure backoff that new work does not cut short (that would retry once per
 * flush) but `stop()` does.
 */
export class LoopTimer {
  private wake?: () => void;
  private kicked = false;
  private stopWait?: () => void;

  /** Wakes an idle sleep now, or makes the next one return at once. */
  kick(): void {
    const w = this.wake;
    this.wake = undefined;
    if (w) w();
    else this.kicked = true;
  }

  /** Ends any wait now (the loop is stopping). */
  stop(): void {
    this.kick();
    this.stopWait?.();
  }

  /** Waits out a failure; only `stop()` ends it early. */
  backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.stopWait = undefined;
        resolve();
      }, ms);
      this.stopWait = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Idle wait; `kick()` or `stop()` ends it early. */
  sleep(ms: number): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
