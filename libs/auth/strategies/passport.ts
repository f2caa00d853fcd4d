/**
 * How the global guard runs a passport strategy. Each credential type is a `@nestjs/passport`
 * strategy (`PassportStrategy(CustomStrategy, name)`); the guard picks one by the credential the
 * request carries and runs it through passport's `authenticate` with `session: false` and a
 * callback, so passport never writes a response (the guard answers every outcome itself, in the
 * caller's dialect) and nothing is adapted to Express.
 *
 * The strategies register with this library's own Passport instance, not passport's process-wide
 * default, and the guard hands passport the strategy object of its own application (never a lookup
 * by name): two gateways in one process (tests, the benchmark) never share a strategy.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Passport, type Strategy } from 'passport';
import type { Principal } from '../principal';

export const authPassport = new Passport();

export const API_KEY_STRATEGY = 'corral-api-key';
export const SESSION_STRATEGY = 'corral-session';
export const ANONYMOUS_STRATEGY = 'corral-anonymous';

/** Why a strategy refused: what the guard needs to count, audit and answer it. */
export interface AuthFailure {
  failed: true;
  /** A credential was presented (and is counted and audited); false: none at all. */
  presented: boolean;
  /** The key id a failed token named, when it was shaped like a key. */
  keyId?: string;
}

/** What a strategy's `validate` returns: the caller, or `[false, why]` (passport's `fail(info)`). */
export type StrategyResult = Principal | [false, AuthFailure];

export const refuse = (presented: boolean, keyId?: string): [false, AuthFailure] => [
  false,
  keyId === undefined ? { failed: true, presented } : { failed: true, presented, keyId },
];

export function isFailure(outcome: Principal | AuthFailure): outcome is AuthFailure {
  return (outcome as Partial<AuthFailure>).failed === true;
}

/**
 * Runs one strategy for one request: resolves with the caller or the failure, rejects with what the
 * strategy threw (a 503 when the database is down). Passport assigns its per-attempt callbacks
 * (`success`, `fail`, `error`) onto the strategy object, so each request gets its own object derived
 * from the shared strategy, as passport does for strategies it looks up by name.
 */
export function runStrategy(
  strategy: Strategy,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Principal | AuthFailure> {
  return new Promise((resolve, reject) => {
    const middleware = authPassport.authenticate(
      Object.create(strategy) as Strategy,
      { session: false },
      (err: unknown, user: Principal | false, info: AuthFailure | undefined) => {
        if (err) reject(err);
        else resolve(user || (info ?? { failed: true, presented: false }));
      },
    ) as (req: unknown, res: unknown, next: (err?: unknown) => void) => void;
    // `next` runs only if a strategy calls `pass()`, which none of these does.
    middleware(req, reply, (err) => reject(err ?? new Error('authentication strategy passed')));
  });
}
