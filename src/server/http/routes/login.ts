import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { proceed } from '../../core/endpoints/authorize.js';
import type { InteractionRecord } from '../../core/ports.js';
import { throttleOf } from '../../core/throttle.js';
import { startSession } from '../cookies.js';
import type { HttpDeps } from '../deps.js';
import { sendOutcome } from '../outcome.js';
import { readParams } from '../request.js';
import { loginPage, simpleMessagePage } from '../views/pages.js';

const WRONG_CREDENTIALS = 'That username and password do not match. Check them and try again.';
// The same words for an existing and an unknown account: the lock is per username as typed.
const LOCKED = 'Too many sign-in attempts. Wait a few minutes, then try again.';

/** The login page (username + password), CSRF-protected; the session id is rotated at login. */
export function loginRoutes(app: FastifyInstance, { ctx, cookies }: HttpDeps): void {
  async function findInteraction(id: string | undefined): Promise<InteractionRecord | undefined> {
    if (id === undefined || id.length > 64) return undefined;
    return ctx.store.findInteraction(id, ctx.clock.now());
  }

  async function render(reply: FastifyReply, interaction: InteractionRecord | undefined, extra: { error?: string; username?: string; status?: number } = {}) {
    const { status, ...fields } = extra;
    const client = interaction && (await ctx.store.findClient(interaction.clientId));
    return reply
      .code(status ?? (extra.error ? 401 : 200))
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(loginPage({ csrfToken: reply.generateCsrf(), interactionId: interaction?.id, clientName: client?.name, ...fields }));
  }

  app.get('/login', { config: { page: true } }, async (request, reply) => {
    const id = readParams(request).get('interaction');
    const interaction = await findInteraction(id);
    if (id !== undefined && !interaction) return expired(reply);
    return render(reply, interaction);
  });

  app.post('/login', { config: { page: true }, preHandler: app.csrfProtection }, async (request: FastifyRequest, reply) => {
    const params = readParams(request);
    const id = params.get('interaction');
    const interaction = await findInteraction(id);
    if (id !== undefined && !interaction) return expired(reply);
    const username = params.get('username') ?? '';
    const password = params.get('password') ?? '';
    // Brute-force protection: per account (counted before the password is checked) and per client IP
    // (failures); growing delays, then a lock that looks the same whether or not the account exists.
    const throttle = throttleOf(ctx);
    const decision = await throttle.loginAttempt(username.slice(0, 256), request.ip);
    if (decision.kind === 'locked') {
      ctx.events.emit({ type: 'login.failed', at: ctx.clock.now(), clientId: interaction?.clientId ?? null, detail: { reason: 'locked' } });
      reply.header('retry-after', String(decision.retryAfterSeconds));
      return render(reply, interaction, { error: LOCKED, username: username.slice(0, 256), status: 429 });
    }
    if (decision.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.delayMs));
    const user = username.length <= 256 ? await ctx.store.findUserByUsername(username) : undefined;
    // Same message and similar timing for an unknown user and a wrong password: always verify a hash.
    const valid = await ctx.passwords.verify(user?.passwordHash ?? ctx.passwords.dummyHash, password);
    const now = ctx.clock.now();
    if (!user || !valid || password.length === 0) {
      ctx.events.emit({ type: 'login.failed', at: now, clientId: interaction?.clientId ?? null, detail: { reason: user ? 'wrong password' : 'unknown user' } });
      await throttle.loginFailed(request.ip);
      return render(reply, interaction, { error: WRONG_CREDENTIALS, username: username.slice(0, 256) });
    }
    await throttle.loginSucceeded(username);
    const session = await startSession(ctx, cookies, request, reply, user.id);
    ctx.events.emit({ type: 'login.succeeded', at: now, userId: user.id, clientId: interaction?.clientId ?? null });
    if (!interaction) return reply.code(303).header('location', '/account').send();
    return sendOutcome(ctx, request, reply, await proceed(ctx, interaction.request, session, interaction));
  });

  function expired(reply: FastifyReply): FastifyReply {
    return reply
      .code(400)
      .type('text/html; charset=utf-8')
      .send(simpleMessagePage('This sign-in has expired', 'Go back to the application you came from and start signing in again.'));
  }
}
