// @ts-check
/**
 * The demo API (the resource server): a notes service built on `latchkey/resource`. Every route
 * needs an RFC 9068 access token from the Authorization header, issued by the demo's
 * authorization server for this API (audience = this API's URL, RFC 8707) with the right scope.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { createResourceServer, fastifyRequireScope, fastifyResourceServer } from 'latchkey/resource';

/**
 * @typedef {{ id: string, text: string, createdAt: string }} Note
 * @param {{ issuer: string, apiUrl: string, lookupUsername: (sub: string) => Promise<string | undefined> }} options
 */
export async function buildDemoApi({ issuer, apiUrl, lookupUsername }) {
  const server = createResourceServer({
    issuer,
    audience: apiUrl,
    metadata: { scopesSupported: ['notes:read', 'notes:write', 'profile'], resourceName: 'Latchkey demo notes API' },
  });
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 });
  await app.register(fastifyResourceServer, { server });

  /** Notes per user (`sub`), in memory: they start afresh with each run of the demo. */
  /** @type {Map<string, Note[]>} */
  const notes = new Map();
  const notesOf = (/** @type {string} */ sub) => {
    let list = notes.get(sub);
    if (!list) {
      list = [
        { id: randomUUID(), text: 'Welcome! This note came from the demo API, fetched by the app with your access token.', createdAt: new Date().toISOString() },
        { id: randomUUID(), text: 'Your browser never saw that token: it holds only an opaque session cookie.', createdAt: new Date().toISOString() },
      ];
      notes.set(sub, list);
    }
    return list;
  };

  app.get('/', async () => ({
    name: 'Latchkey demo notes API',
    about: 'Every route below needs `Authorization: Bearer <access token>` (RFC 6750 §2.1); without one you get 401 and a WWW-Authenticate challenge.',
    routes: { 'GET /notes': 'notes:read', 'POST /notes': 'notes:write', 'GET /profile': 'profile' },
    metadata: server.resourceMetadataUrl,
  }));

  app.get('/notes', { preHandler: fastifyRequireScope(server, 'notes:read') }, async (request) => {
    const token = /** @type {import('latchkey/resource').AccessToken} */ (request.latchkeyToken);
    return { owner: token.sub, notes: notesOf(token.sub) };
  });

  app.post('/notes', { preHandler: fastifyRequireScope(server, 'notes:write') }, async (request, reply) => {
    const token = /** @type {import('latchkey/resource').AccessToken} */ (request.latchkeyToken);
    const body = /** @type {{ text?: unknown } | undefined} */ (request.body);
    const text = typeof body?.text === 'string' ? body.text.trim() : '';
    if (text === '' || text.length > 500) return reply.code(400).send({ error: 'invalid_note', message: 'text must be 1 to 500 characters' });
    const list = notesOf(token.sub);
    if (list.length >= 50) return reply.code(409).send({ error: 'too_many_notes', message: 'a demo account keeps at most 50 notes' });
    const note = { id: randomUUID(), text, createdAt: new Date().toISOString() };
    list.unshift(note);
    return reply.code(201).send(note);
  });

  app.get('/profile', { preHandler: fastifyRequireScope(server, 'profile') }, async (request) => {
    const token = /** @type {import('latchkey/resource').AccessToken} */ (request.latchkeyToken);
    // The demo API shares the user directory of the authorization server (one process). A real
    // API keeps its own profile data, keyed by the token's `sub`.
    return { sub: token.sub, username: (await lookupUsername(token.sub)) ?? null, scope: token.scope, client_id: token.clientId };
  });

  return { app, server };
}
