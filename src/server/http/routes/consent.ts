import type { FastifyInstance, FastifyReply } from 'fastify';
import { completeConsent, isLoginSatisfied } from '../../core/endpoints/authorize.js';
import { currentSession } from '../cookies.js';
import type { HttpDeps } from '../deps.js';
import { sendOutcome } from '../outcome.js';
import { readParams } from '../request.js';
import { consentPage, simpleMessagePage } from '../views/pages.js';

/** The consent page: the client's name and the scopes in plain words, Allow or Deny. */
export function consentRoutes(app: FastifyInstance, { ctx, cookies }: HttpDeps): void {
  const describeScope = (s: string) => ctx.settings.scopeDescriptions[s] ?? `Use “${s}”`;

  app.get('/consent', { config: { page: true } }, async (request, reply) => {
    const id = readParams(request).get('interaction');
    const interaction = id && id.length <= 64 ? await ctx.store.findInteraction(id, ctx.clock.now()) : undefined;
    if (!interaction) return expired(reply);
    const session = await currentSession(ctx, cookies, request);
    // OIDC Core §3.1.2.1: prompt=login needs a login after the request began; an older session cannot skip it.
    if (!isLoginSatisfied(interaction.request, session, interaction)) return reply.code(303).header('location', `/login?interaction=${encodeURIComponent(interaction.id)}`).send();
    const [client, user] = await Promise.all([ctx.store.findClient(interaction.clientId), ctx.store.findUserById(session.userId)]);
    if (!client || !user) return expired(reply);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(
        consentPage({
          csrfToken: reply.generateCsrf(),
          interactionId: interaction.id,
          client,
          scope: interaction.request.scope,
          resource: interaction.request.resource,
          username: user.username,
          describeScope,
        }),
      );
  });

  app.post('/consent', { config: { page: true }, preHandler: app.csrfProtection }, async (request, reply) => {
    const params = readParams(request);
    const id = params.get('interaction');
    const interaction = id && id.length <= 64 ? await ctx.store.findInteraction(id, ctx.clock.now()) : undefined;
    if (!interaction) return expired(reply);
    const session = await currentSession(ctx, cookies, request);
    // OIDC Core §3.1.2.1: prompt=login needs a login after the request began; an older session cannot skip it.
    if (!isLoginSatisfied(interaction.request, session, interaction)) return reply.code(303).header('location', `/login?interaction=${encodeURIComponent(interaction.id)}`).send();
    const decision = params.get('decision');
    if (decision !== 'approve' && decision !== 'deny') {
      return reply.code(400).type('text/html; charset=utf-8').send(simpleMessagePage('Choose Allow or Deny', 'The form was sent without a decision.'));
    }
    return sendOutcome(ctx, request, reply, await completeConsent(ctx, interaction, session, decision === 'approve'));
  });

  function expired(reply: FastifyReply): FastifyReply {
    return reply
      .code(400)
      .type('text/html; charset=utf-8')
      .send(simpleMessagePage('This request has expired', 'Go back to the application you came from and start again.'));
  }
}
