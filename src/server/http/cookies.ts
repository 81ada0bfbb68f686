import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CoreContext } from '../core/context.js';
import { sha256 } from '../core/digest.js';
import type { SessionRecord } from '../core/ports.js';

export interface CookieSettings {
  secure: boolean;
  sessionCookie: string;
  csrfCookie: string;
}

/** HttpOnly, SameSite=Lax, Secure and the __Host- prefix when the issuer is https. */
export function cookieSettings(issuer: string): CookieSettings {
  const secure = issuer.startsWith('https:');
  return {
    secure,
    sessionCookie: secure ? '__Host-latchkey-session' : 'latchkey-session',
    csrfCookie: secure ? '__Host-latchkey-csrf' : 'latchkey-csrf',
  };
}

export async function currentSession(ctx: CoreContext, cookies: CookieSettings, request: FastifyRequest): Promise<SessionRecord | undefined> {
  const idHash = sessionIdHash(cookies, request);
  return idHash === undefined ? undefined : ctx.store.findSession(idHash, ctx.clock.now());
}

/** The key the request's login session is stored under (SHA-256 of its cookie), if it sent a plausible one. */
export function sessionIdHash(cookies: CookieSettings, request: FastifyRequest): string | undefined {
  const value = request.cookies[cookies.sessionCookie];
  if (!value || value.length > 128) return undefined;
  return sha256(value);
}

/** Starts a login session. The id is new at every login (session fixation), ≥ 256 random bits. */
export async function startSession(ctx: CoreContext, cookies: CookieSettings, request: FastifyRequest, reply: FastifyReply, userId: string): Promise<SessionRecord> {
  const previous = request.cookies[cookies.sessionCookie];
  if (previous) await ctx.store.deleteSession(sha256(previous));
  const id = ctx.random.token(32);
  const now = ctx.clock.now();
  const session: SessionRecord = { idHash: sha256(id), userId, authTime: now, createdAt: now, expiresAt: now + ctx.settings.sessionTtlSeconds * 1000 };
  await ctx.store.createSession(session);
  reply.setCookie(cookies.sessionCookie, id, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: cookies.secure,
    maxAge: ctx.settings.sessionTtlSeconds,
  });
  return session;
}

export async function endSession(ctx: CoreContext, cookies: CookieSettings, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const value = request.cookies[cookies.sessionCookie];
  if (value) await ctx.store.deleteSession(sha256(value));
  reply.clearCookie(cookies.sessionCookie, { path: '/', httpOnly: true, sameSite: 'lax', secure: cookies.secure });
}
