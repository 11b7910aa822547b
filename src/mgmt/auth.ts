// Bearer-token authentication (docs/api.md "Authentication"): every request to /api/* and
// /metrics carries the host's token; the static web console files are public. Browsers
// cannot set headers on WebSockets or EventSource, so those may pass ?token= instead.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Compares digests so the time taken says nothing about the token, not even its length. */
export function tokenMatches(given: string, token: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export function needsToken(url: string): boolean {
  const path = url.split('?')[0];
  return path === '/api' || path.startsWith('/api/') || path === '/metrics';
}

/** The token a request carries: the Authorization header, or ?token= where headers are impossible. */
function presented(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    return m ? m[1] : undefined;
  }
  const path = req.url.split('?')[0];
  const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';
  if (upgrade || path === '/api/events') {
    const token = new URL(req.url, 'http://x').searchParams.get('token');
    return token ?? undefined;
  }
  return undefined;
}

export function registerAuth(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!needsToken(req.url)) return;
    const given = presented(req);
    if (given === undefined) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing token: send "Authorization: Bearer <token>" (the token is in the data directory\'s "token" file)' });
    } else if (!tokenMatches(given, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'wrong token' });
    }
  });
}
