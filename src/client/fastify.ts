/**
 * Fastify adapter: mounts the sign-in routes and gives every request `request.latchkey`
 * (the signed-in user and an API fetch with the user's token).
 *
 *   await app.register(latchkeyFastify, { client });
 *   app.get('/me', async (request) => request.latchkey.user ?? null);
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { BffOptions, BffResponse, LatchkeyContext } from './bff.js';
import { BackendForFrontend } from './bff.js';

declare module 'fastify' {
  interface FastifyRequest {
    latchkey: LatchkeyContext;
  }
}

function send(reply: FastifyReply, response: BffResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body);
}

async function plugin(app: FastifyInstance, options: BffOptions): Promise<void> {
  const bff = new BackendForFrontend(options);
  const request = (r: { method: string; url: string; headers: { cookie?: string | undefined } }) => ({ method: r.method, url: r.url, cookie: r.headers.cookie });

  app.decorateRequest('latchkey', null as unknown as LatchkeyContext);
  app.addHook('onRequest', async (req) => {
    req.latchkey = await bff.context(req.headers.cookie);
  });

  app.get(bff.loginPath, async (req, reply) => send(reply, await bff.login(request(req), new URL(req.url, 'http://localhost'))));
  // GET only (no automatic HEAD route): a HEAD must not consume the pending sign-in.
  app.get(bff.callbackPath, { exposeHeadRoute: false }, async (req, reply) => send(reply, await bff.callback(request(req), new URL(req.url, 'http://localhost'))));
  app.get(bff.logoutPath, async (req, reply) => send(reply, (await bff.handle(request(req)))!));
  // A sign-out form posts application/x-www-form-urlencoded; accept it here without touching the
  // application's own parsers (the body is not needed).
  await app.register(async (scoped) => {
    if (!scoped.hasContentTypeParser('application/x-www-form-urlencoded')) {
      scoped.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, _body, done) => done(null, {}));
    }
    scoped.post(bff.logoutPath, async (req, reply) => send(reply, await bff.logout(request(req))));
  });
}

/**
 * The plugin. It is not encapsulated (like fastify-plugin's skip-override), so `request.latchkey`
 * is available to every route of the application that registers it.
 */
export const latchkeyFastify = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'latchkey-client',
});
