/**
 * The waiting line for saturated workers: weighted fair share across teams, priority within a team.
 *
 * Self-clocked fair queuing: each team with waiting requests carries a virtual finish tag (the
 * virtual clock when its head request became head, plus that request's cost divided by the team's
 * weight); the next request served is the head of the team with the smallest tag, and the
 * virtual clock moves to that tag. A team that floods the queue only pushes its own tags ahead, so
 * another team's single request is served after at most about one request per competing team. A
 * team that was idle rejoins at the clock: no saved-up credit for a burst.
 *
 * Within a team, interactive requests go before batch ones (FIFO inside each class).
 *
 * The array-like surface (push, shift, indexOf, splice, length) lets it replace a plain `T[]`
 * waiting list without touching the code around it.
 */
/** Interactive requests of a team are served before its batch requests. */
export type Priority = 'interactive' | 'batch';

export interface FairShare {
  /** Whose share the request counts against. Requests without one share the team "". */
  team: string;
  /** Team weight from its quota policy. Defaults to 1. */
  weight?: number;
  /** Defaults to interactive. */
  priority?: Priority;
  /** How much of the share serving this request uses (1 per request, or its token estimate). Defaults to 1. */
  cost?: number;
}

interface Entry<T> {
  item: T;
  cost: number;
}

interface Flow<T> {
  interactive: Entry<T>[];
  batch: Entry<T>[];
  weight: number;
  /** Virtual finish tag of the head entry while the flow is active. */
  tag: number;
}

export class FairQueue<T> {
  private readonly flows = new Map<string, Flow<T>>();
  private readonly names = new Map<Flow<T>, string>();
  private readonly active = new Set<Flow<T>>();
  /** Arrival order of the entries waiting: for indexOf/splice and for `drain`. */
  private readonly arrival = new Map<T, { flow: Flow<T>; entry: Entry<T> }>();
  private clock = 0;

  get length(): number {
    return this.arrival.size;
  }

  /** Queues an item. Returns the new length, like Array#push. */
  push(item: T, share?: FairShare): number {
    const name = share?.team ?? '';
    let flow = this.flows.get(name);
    if (!flow) {
      flow = { interactive: [], batch: [], weight: 1, tag: 0 };
      this.flows.set(name, flow);
      this.names.set(flow, name);
    }
    const weight = share?.weight;
    if (weight !== undefined && Number.isFinite(weight) && weight > 0) flow.weight = weight;
    const entry: Entry<T> = { item, cost: Math.max(share?.cost ?? 1, 1e-9) };
    (share?.priority === 'batch' ? flow.batch : flow.interactive).push(entry);
    this.arrival.set(item, { flow, entry });
    this.retag(flow);
    return this.arrival.size;
  }

  /** Takes the next item by fair share; undefined when empty. */
  shift(): T | undefined {
    let next: Flow<T> | undefined;
    for (const f of this.active) if (!next || f.tag < next.tag) next = f;
    if (!next) return undefined;
    const entry = next.interactive.length ? next.interactive.shift()! : next.batch.shift()!;
    this.clock = next.tag;
    this.active.delete(next);
    this.arrival.delete(entry.item);
    this.retag(next);
    return entry.item;
  }

  /** Position in arrival order (not service order), or -1: pairs with `splice`. */
  indexOf(item: T): number {
    let i = 0;
    for (const k of this.arrival.keys()) {
      if (k === item) return i;
      i++;
    }
    return -1;
  }

  /** Removes `deleteCount` (default: all) items from arrival position `start`, like Array#splice. */
  splice(start: number, deleteCount = Infinity): T[] {
    const victims = [...this.arrival.keys()].slice(start, start + deleteCount);
    for (const v of victims) this.remove(v);
    return victims;
  }

  /** Removes one waiting item (a cancelled request). */
  remove(item: T): boolean {
    const at = this.arrival.get(item);
    if (!at) return false;
    this.arrival.delete(item);
    const { flow, entry } = at;
    for (const list of [flow.interactive, flow.batch]) {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
    }
    // The next entry inherits the removed one's place: its tag stays, so no flow is penalised.
    if (!flow.interactive.length && !flow.batch.length) this.forget(flow);
    return true;
  }

  /**
   * An empty flow is dropped: it left off at or behind the clock, so rejoining at the clock loses
   * nothing, and the map stays as small as the set of teams waiting.
   */
  private forget(flow: Flow<T>): void {
    this.active.delete(flow);
    const name = this.names.get(flow);
    if (name !== undefined) this.flows.delete(name);
    this.names.delete(flow);
  }

  /** Recomputes a flow's tag from its head after the head changed. */
  private retag(flow: Flow<T>): void {
    const head = flow.interactive[0] ?? flow.batch[0];
    if (!head) return this.forget(flow);
    if (this.active.has(flow)) return;
    flow.tag = this.clock + head.cost / flow.weight;
    this.active.add(flow);
  }
}
