// Which names the service answers to (docs/api.md "Host names"). Any web page can make a
// browser send requests to 127.0.0.1:7070, and with DNS rebinding a name the page's owner
// controls resolves to it, so the browser takes the service for that site. Browsers always
// send the name they asked for (Host) and, on a WebSocket, the page they came from
// (Origin), and a page cannot forge either: the service answers only requests for its own
// names, and takes WebSocket upgrades only from pages of those names.
import type { FastifyInstance } from 'fastify';

/** Names every service answers to, besides its --listen host and --allow-host names. */
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];
/** Addresses that mean "every interface": never a name a client asks for (a browser would reach the service through 0.0.0.0). */
const UNSPECIFIED = ['0.0.0.0', '[::]'];

/**
 * A host as written in a Host header, an Origin or --allow-host: NAME or NAME:PORT, NAME a
 * DNS name, an IPv4 address or an [IPv6] address. Returns it lower-cased and split, or
 * undefined if it is none of those.
 */
export function parseHost(text: string): { name: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::(\d{1,5}))?$/.exec(text.toLowerCase());
  if (!m) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { name: m[1], port };
}

/**
 * The set of NAME:PORT a service on `port` answers to: the loopback names and `names` (its
 * listen host, --allow-host values) on that port; a name given with its own port
 * (--allow-host NAME:PORT, for a proxy that passes its clients' Host on) only there.
 */
export function allowedHosts(names: readonly string[], port: number): Set<string> {
  const allowed = new Set<string>();
  for (const text of [...LOOPBACK, ...names]) {
    const h = parseHost(text) ?? parseHost(`[${text}]`); // a bare IPv6 address (a listen host, the bound address)
    if (!h || UNSPECIFIED.includes(h.name)) continue;
    allowed.add(`${h.name}:${h.port ?? port}`);
  }
  return allowed;
}

/** Whether a Host header names the service (no port means 80, as in HTTP). */
export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  const h = header === undefined ? undefined : parseHost(header);
  return h !== undefined && allowed.has(`${h.name}:${h.port ?? 80}`);
}

/** Whether an Origin header is a page of the service: http:// or https:// and one of its hosts. */
export function originAllowed(origin: string, allowed: ReadonlySet<string>): boolean {
  const m = /^(https?):\/\/([^/?#@]+)$/i.exec(origin);
  if (!m) return false; // "null" (a sandboxed frame, a file), other schemes, paths
  const h = parseHost(m[2]);
  return h !== undefined && allowed.has(`${h.name}:${h.port ?? (m[1].toLowerCase() === 'https' ? 443 : 80)}`);
}

/**
 * Refuses (403) requests for a name that is not the service's, and WebSocket upgrades from
 * pages of other sites. `names`: the --listen host and the --allow-host values; the port is
 * the one the server listens on. Runs before authentication, on every route.
 */
export function registerHostCheck(app: FastifyInstance, names: readonly string[]): void {
  const allowed = serverHosts(app, names);
  app.addHook('onRequest', async (req, reply) => {
    const refusal = hostRefusal(req.headers.host, allowed());
    if (refusal) return reply.code(403).send({ error: refusal });
    const origin = req.headers.origin;
    if (req.ws && origin !== undefined && !originAllowed(origin, allowed())) {
      return reply.code(403).send({ error: `WebSocket from the page ${origin} refused: only pages of this service may open one` });
    }
  });
}

/** The hosts a server answers to (allowedHosts), worked out once it is bound. */
export function serverHosts(app: Pick<FastifyInstance, 'server'>, names: readonly string[]): () => ReadonlySet<string> {
  let allowed: Set<string> | undefined;
  return () => {
    if (!allowed) {
      const address = app.server.address();
      const bound = typeof address === 'object' && address ? address : undefined;
      allowed = allowedHosts(bound ? [...names, bound.address] : names, bound?.port ?? 80);
    }
    return allowed;
  };
}

/** Why a request for `host` is refused (403), or undefined if the service answers to it. */
export function hostRefusal(host: string | undefined, allowed: ReadonlySet<string>): string | undefined {
  if (hostAllowed(host, allowed)) return undefined;
  const name = (host !== undefined && parseHost(host)?.name) || 'NAME';
  return `this service does not answer to the host name "${host ?? ''}"; to reach it by that name, start it with: tshv serve --allow-host ${name}`;
}
