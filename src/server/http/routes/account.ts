import type { FastifyInstance } from 'fastify';
import { currentSession, endSession } from '../cookies.js';
import type { HttpDeps } from '../deps.js';
import { readParams } from '../request.js';
import { accountPage, loginPage, simpleMessagePage } from '../views/pages.js';

/** /account: the applications a user granted access to, each revocable; and sign-out. */
export function accountRoutes(app: FastifyInstance, { ctx, cookies }: HttpDeps): void {
  const describeScope = (s: string) => ctx.settings.scopeDescriptions[s] ?? `Use “${s}”`;

  app.get('/account', { config: { page: true } }, async (request, reply) => {
    const session = await currentSession(ctx, cookies, request);
    const html = (body: string) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
    if (!session) return html(loginPage({ csrfToken: reply.generateCsrf() }));
    const user = await ctx.store.findUserById(session.userId);
    if (!user) return html(loginPage({ csrfToken: reply.generateCsrf() }));
    const applications = [];
    for (const consent of await ctx.store.listConsents(user.id)) {
      const client = await ctx.store.findClient(consent.clientId);
      if (client) applications.push({ client, consent });
    }
    return html(accountPage({ username: user.username, csrfToken: reply.generateCsrf(), applications, describeScope }));
  });

  app.post('/account/revoke', { config: { page: true }, preHandler: app.csrfProtection }, async (request, reply) => {
    const session = await currentSession(ctx, cookies, request);
    if (!session) return reply.code(303).header('location', '/account').send();
    const clientId = readParams(request).get('client_id');
    if (clientId !== undefined) {
      const now = ctx.clock.now();
      // Removes the consent and revokes every grant (refresh family) of this user for the client.
      await ctx.store.revokeConsent(session.userId, clientId, now);
      ctx.events.emit({ type: 'consent.revoked', at: now, clientId, userId: session.userId });
    }
    return reply.code(303).header('location', '/account').send();
  });

  app.post('/logout', { config: { page: true }, preHandler: app.csrfProtection }, async (request, reply) => {
    const session = await currentSession(ctx, cookies, request);
    await endSession(ctx, cookies, request, reply);
    if (session) ctx.events.emit({ type: 'logout', at: ctx.clock.now(), userId: session.userId });
    return reply.type('text/html; charset=utf-8').send(simpleMessagePage('You are signed out', 'Your session at this server has ended.'));
  });
}
