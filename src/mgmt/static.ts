// The web console's files (docs/api.md "Static files"), public and read from the package
// itself: src/web/ as written, and xterm.js from node_modules under /vendor/. A file that
// is not there is a 404, so the service runs before the web console exists. These are the
// only routes that need no token.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { PACKAGE_ROOT } from '../parent/guest-config.js';

export const WEB_ROOT = join(PACKAGE_ROOT, 'src', 'web');

/** /vendor/<name> -> the file in node_modules. */
export const VENDOR_FILES: Record<string, string> = {
  'xterm.js': 'node_modules/@xterm/xterm/lib/xterm.js',
  'xterm.css': 'node_modules/@xterm/xterm/css/xterm.css',
  'addon-fit.js': 'node_modules/@xterm/addon-fit/lib/addon-fit.js',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.map': 'application/json',
};

async function sendFile(reply: FastifyReply, path: string): Promise<FastifyReply> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch {
    return reply.code(404).send({ error: 'not found' });
  }
  return reply.type(TYPES[extname(path)] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(data);
}

export function registerStatic(app: FastifyInstance): void {
  // Public (auth.ts): the page must load before it can ask for the token.
  const hidden = { schema: { hide: true }, config: { access: 'public' as const } };
  app.get('/', hidden, (_req, reply) => sendFile(reply, join(WEB_ROOT, 'index.html')));
  app.get<{ Params: { '*': string } }>('/assets/*', hidden, (req, reply) => {
    const assets = join(WEB_ROOT, 'assets');
    // normalize() resolves "..": whatever is left must still be inside assets/.
    const path = normalize(join(assets, req.params['*']));
    if (!path.startsWith(assets + sep)) return reply.code(404).send({ error: 'not found' });
    return sendFile(reply, path);
  });
  app.get<{ Params: { name: string } }>('/vendor/:name', hidden, (req, reply) => {
    const file = Object.hasOwn(VENDOR_FILES, req.params.name) ? VENDOR_FILES[req.params.name] : undefined;
    if (!file) return reply.code(404).send({ error: 'not found' });
    return sendFile(reply, join(PACKAGE_ROOT, file));
  });
}
