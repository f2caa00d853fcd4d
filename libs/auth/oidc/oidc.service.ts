/**
 * The relying party: discovers the issuer once (retried on the next login after a failure), builds
 * authorization requests (code flow, PKCE S256, state, nonce) and turns a callback into a local
 * user: found by (issuer, subject), else linked by a verified email, else created; then the group
 * map is applied. ID token signature, issuer, audience, nonce and expiry are checked by openid-client.
 */
import { Logger } from '@nestjs/common';
import { CorralError } from '@corral/common';
import type { OidcConfig } from '@corral/config';
import { newId } from '../credentials';
import type { User } from '../auth.types';
import type { InvalidationBus } from '../invalidation';
import type { AuthRepositories } from '../repositories';
import { groupsFromClaim, syncRoles } from './group-sync';
import { STATE_TTL_MS, type LoginTransaction } from './state-cookie';

type OpenIdClient = typeof import('openid-client');
type Configuration = import('openid-client').Configuration;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class OidcService {
  private readonly logger = new Logger('OIDC');
  private discovered?: Promise<{ lib: OpenIdClient; config: Configuration }>;

  constructor(
    readonly options: OidcConfig,
    private readonly repos: AuthRepositories,
    private readonly bus: InvalidationBus,
  ) {}

  private client(): Promise<{ lib: OpenIdClient; config: Configuration }> {
    this.discovered ??= (async () => {
      const lib = await import('openid-client');
      const issuer = new URL(this.options.issuer);
      // Plain http only for a provider on this machine (development, tests); never across a network.
      const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
      const config = await lib.discovery(
        issuer,
        this.options.clientId,
        undefined,
        this.options.clientSecret ? lib.ClientSecretBasic(this.options.clientSecret) : lib.None(),
        { execute: insecure ? [lib.allowInsecureRequests] : [], timeout: 10 },
      );
      return { lib, config };
    })();
    return this.discovered.catch((e: Error) => {
      this.discovered = undefined;
      this.logger.error(`discovery of ${this.options.issuer} failed: ${e.message}`);
      throw new CorralError('unavailable', 'the identity provider cannot be reached; retry shortly');
    });
  }

  /** Where to send the browser, and the transaction to keep until it comes back. */
  async begin(redirectUri: string, returnTo: string): Promise<{ url: URL; tx: LoginTransaction }> {
    const { lib, config } = await this.client();
    const tx: LoginTransaction = {
      state: lib.randomState(),
      nonce: lib.randomNonce(),
      codeVerifier: lib.randomPKCECodeVerifier(),
      returnTo,
      redirectUri,
      expiresAt: Date.now() + STATE_TTL_MS,
    };
    const url = lib.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.options.scopes.join(' '),
      code_challenge: await lib.calculatePKCECodeChallenge(tx.codeVerifier),
      code_challenge_method: 'S256',
      state: tx.state,
      nonce: tx.nonce,
    });
    return { url, tx };
  }

  /** Exchanges the code and returns the local user, created or linked as needed, roles synced. */
  async complete(callbackQuery: string, tx: LoginTransaction): Promise<User> {
    const { lib, config } = await this.client();
    const current = new URL(tx.redirectUri);
    current.search = callbackQuery;
    let claims: Record<string, unknown>;
    try {
      const tokens = await lib.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: tx.codeVerifier,
        expectedState: tx.state,
        expectedNonce: tx.nonce,
        idTokenExpected: true,
      });
      claims = { ...(tokens.claims() ?? {}) };
      // Many providers (Keycloak by default) put groups and email only in userinfo.
      if (
        (claims[this.options.groupsClaim] === undefined || claims.email === undefined) &&
        tokens.access_token
      )
        claims = {
          ...(await lib.fetchUserInfo(config, tokens.access_token, String(claims.sub)).catch(() => ({}))),
          ...claims,
        };
    } catch (e) {
      throw this.providerError(e, lib);
    }
    return this.resolveUser(config.serverMetadata().issuer, claims);
  }

  private providerError(e: unknown, lib: OpenIdClient): CorralError {
    if (e instanceof CorralError) return e;
    if (e instanceof lib.AuthorizationResponseError || e instanceof lib.ResponseBodyError) {
      const desc = e.error_description ? `: ${e.error_description}` : '';
      return new CorralError('unauthorized', `sign-in at the identity provider failed (${e.error}${desc})`);
    }
    this.logger.warn(`callback refused: ${(e as Error).message}`);
    return new CorralError(
      'unauthorized',
      'sign-in at the identity provider could not be verified; start again',
    );
  }

  private async resolveUser(issuer: string, claims: Record<string, unknown>): Promise<User> {
    const subject = typeof claims.sub === 'string' ? claims.sub : '';
    if (!subject) throw new CorralError('unauthorized', 'the identity provider sent no subject');
    const email = typeof claims.email === 'string' ? claims.email.trim() : '';
    const verified = claims.email_verified === true || claims.email_verified === 'true';
    const name = [claims.name, claims.preferred_username].find((v) => typeof v === 'string') as
      string | undefined;

    let user = await this.repos.users.findByIdentity(issuer, subject);
    if (!user) {
      if (!email)
        throw new CorralError('forbidden', 'the identity provider sent no email address for this account');
      const existing = await this.repos.users.findByEmail(email);
      if (existing && !verified)
        throw new CorralError(
          'forbidden',
          'an account with this email exists, but the identity provider has not verified the address',
        );
      user =
        existing ??
        (await this.repos.users.create({
          id: newId('usr'),
          email,
          name: name ?? '',
          passwordHash: null,
          globalRole: null,
        }));
      await this.repos.users.linkIdentity({ issuer, subject, userId: user.id });
      this.logger.log(`${existing ? 'linked' : 'created'} ${user.id} for ${issuer} subject ${subject}`);
    }
    if (user.disabledAt) throw new CorralError('forbidden', 'this account is disabled');
    const groups = groupsFromClaim(claims[this.options.groupsClaim]);
    if (await syncRoles(this.repos, user, this.options.groupMap, groups)) {
      await this.bus.publish('*');
      user = (await this.repos.users.findById(user.id)) ?? user;
    }
    return user;
  }
}
