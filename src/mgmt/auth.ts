// Bearer-token authentication (docs/api.md "Authentication"), decided on the route the
// request was routed to, never on the URL as sent: the router decodes the path before it
// matches (/%61pi/vms is /api/vms), so a check on the raw URL would let such spellings by.
// Deny by default: a route needs the token unless its config says otherwise, and so does a
// request no route matched (a 404 tells a stranger nothing about which paths exist).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Who may call a route, declared with `config: { access }` where the route is added:
 *  - 'token' (the default): `Authorization: Bearer <token>`;
 *  - 'token-or-query': the header or `?token=` (the event stream: a browser's EventSource cannot set headers);
 *  - 'websocket': the header, or `?token=` on a WebSocket upgrade (browsers cannot set headers there either);
 *  - 'public': anyone (the web console's static files, which hold no secrets).
 */
export type RouteAccess = 'token' | 'token-or-query' | 'websocket' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig { access?: RouteAccess }
}

/** Compares digests so the time taken says nothing about the token, not even its length. */
export function tokenMatches(given: string, token: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** What the route the request was routed to demands; 'token' for one that declares nothing and for a request no route matched. */
export function routeAccess(req: FastifyRequest): RouteAccess {
  return req.routeOptions.config?.access ?? 'token';
}

/** The token a request carries: the Authorization header, or ?token= where the route allows it. */
function presented(req: FastifyRequest, access: RouteAccess): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    return m ? m[1] : undefined;
  }
  // req.ws: the request came through the server's 'upgrade' event (@fastify/websocket), not
  // merely with an Upgrade header on an ordinary request.
  const queryAllowed = access === 'token-or-query' || (access === 'websocket' && req.ws);
  if (!queryAllowed) return undefined;
  return new URL(req.url, 'http://x').searchParams.get('token') ?? undefined;
}

/** The answer to a request without a token; also how another process tells a tshv service (DataDir.service). */
export const MISSING_TOKEN = 'missing token: send "Authorization: Bearer <token>" (the token is in the data directory\'s "token" file)';

export function registerAuth(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (req, reply) => {
    const access = routeAccess(req);
    if (access === 'public') return;
    const given = presented(req, access);
    if (given === undefined) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: MISSING_TOKEN });
    } else if (!tokenMatches(given, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'wrong token' });
    }
  });
}
