/**
 * Lets TypeORM's postgres driver run on an embedded PGlite instance. TypeORM talks to a `pg.Pool`;
 * this is a pool of exactly one connection, because PGlite is one single-user backend: a query runner
 * that holds the connection (a transaction) excludes everyone else until it releases it, so
 * statements of two transactions can never interleave.
 */
import { EventEmitter } from 'node:events';
import type { PGlite, Results } from '@electric-sql/pglite';

type Callback = (err: Error | null, result?: unknown) => void;

interface PgLikeResult {
  command: string;
  rows: unknown[];
  rowCount: number;
  fields: { name: string; dataTypeID: number }[];
}

function toPgResult(sql: string, r: Results | undefined): PgLikeResult {
  const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
  const rows = (r?.rows ?? []) as unknown[];
  return {
    command,
    rows,
    rowCount: r?.affectedRows ?? rows.length,
    fields: (r?.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
  };
}

class PGliteClient extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }

  query(sql: string | { text: string; values?: unknown[] }, params?: unknown[] | Callback, cb?: Callback) {
    const text = typeof sql === 'string' ? sql : sql.text;
    let values = typeof sql === 'string' ? undefined : sql.values;
    let callback = cb;
    if (typeof params === 'function') callback = params;
    else if (params) values = params;
    // exec() runs multi-statement SQL (migrations); query() the parameterised single statements.
    const run =
      values && values.length > 0
        ? this.db.query(text, values as unknown[])
        : this.db.exec(text).then((all) => all[all.length - 1]);
    const p = run.then((r) => toPgResult(text, r as Results | undefined));
    if (callback) {
      p.then(
        (r) => callback(null, r),
        (e: Error) => callback(e),
      );
      return undefined;
    }
    return p;
  }
}

export class PGlitePool extends EventEmitter {
  private readonly client: PGliteClient;
  private held = false;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly db: PGlite) {
    super();
    this.client = new PGliteClient(db);
  }

  connect(callback?: (err: Error | null, client?: PGliteClient, release?: () => void) => void) {
    const acquired = new Promise<void>((resolve) => {
      if (!this.held) {
        this.held = true;
        resolve();
      } else this.waiters.push(resolve);
    });
    const release = () => {
      const next = this.waiters.shift();
      if (next) next();
      else this.held = false;
    };
    const p = acquired.then(() => ({ client: this.client, release }));
    if (callback) {
      p.then(
        ({ client }) => callback(null, client, release),
        (e: Error) => callback(e),
      );
      return undefined;
    }
    return p.then(({ client }) => Object.assign(client, { release }));
  }

  /** Pool-level query: waits for the connection like any other user. */
  query(sql: string, params?: unknown[] | Callback, cb?: Callback) {
    return new Promise((resolve, reject) => {
      void this.connect((err, client, release) => {
        if (err || !client || !release) return reject(err);
        const done = (e: Error | null, r?: unknown) => {
          release();
          const f = typeof params === 'function' ? params : cb;
          if (f) f(e, r);
          if (e) reject(e);
          else resolve(r);
        };
        void client.query(sql, Array.isArray(params) ? params : undefined, done);
      });
    });
  }

  end(cb?: (err: Error | null) => void) {
    const p = this.db.close();
    if (cb) {
      p.then(
        () => cb(null),
        (e: Error) => cb(e),
      );
    }
    return p;
  }
}

/** The object TypeORM's `driver` option expects in place of the `pg` module. */
export function pgliteDriverFor(db: PGlite): unknown {
  return {
    Pool: class {
      constructor() {
        return new PGlitePool(db);
      }
    },
    types: { setTypeParser: () => undefined, getTypeParser: () => (v: unknown) => v },
  };
}
