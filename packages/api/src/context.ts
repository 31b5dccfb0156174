import type { NatsConnection } from '@nats-io/transport-node';
import type { Principal } from '@palisade/auth';
import type { DbClient } from '@palisade/db';
import { ControllerClient } from './controllerClient.js';
import { ScannerClient } from './scannerClient.js';
import { readCookie, SESSION_COOKIE, SessionVerifier } from './session.js';

export interface ApiDeps {
  nats: NatsConnection;
  db: DbClient;
  /** The NATS URL agents are told to use in join commands. */
  agentNatsUrl: string;
  /** Mark session cookies Secure (serve the console over HTTPS in production). */
  secureCookies: boolean;
}

export interface Context {
  principal: Principal | null;
  controller: ControllerClient;
  scanner: ScannerClient;
  db: DbClient;
  agentNatsUrl: string;
  remoteAddress: string;
  secureCookies: boolean;
  /** Response headers; login and logout set the session cookie through them. */
  resHeaders: Headers;
}

/**
 * A context for a known principal, without an HTTP request: for in-process callers
 * (`createCallerFactory(appRouter)(ctx)`), such as tests that exercise authorization directly.
 */
export function contextFor(
  deps: ApiDeps,
  principal: Principal | null,
  remoteAddress = 'in-process',
): Context {
  return {
    principal,
    controller: new ControllerClient(deps.nats),
    scanner: new ScannerClient(deps.nats),
    db: deps.db,
    agentNatsUrl: deps.agentNatsUrl,
    remoteAddress,
    secureCookies: deps.secureCookies,
    resHeaders: new Headers(),
  };
}

/** Builds the per-request context factory used by the HTTP adapter. */
export function createContextFactory(deps: ApiDeps) {
  const controller = new ControllerClient(deps.nats);
  const scanner = new ScannerClient(deps.nats);
  const sessions = new SessionVerifier(controller);
  return async ({ req, resHeaders }: { req: Request; resHeaders: Headers }): Promise<Context> => {
    const bearer = req.headers.get('authorization')?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const token = bearer ?? readCookie(req.headers.get('cookie'), SESSION_COOKIE);
    return {
      principal: await sessions.principal(token),
      controller,
      scanner,
      db: deps.db,
      agentNatsUrl: deps.agentNatsUrl,
      // The first hop recorded by the HTTP server; used only to key login rate limits.
      remoteAddress: req.headers.get('x-forwarded-for')?.split(',')[0]?.trim() || 'unknown',
      secureCookies: deps.secureCookies,
      resHeaders,
    };
  };
}
