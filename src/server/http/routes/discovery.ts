import type { FastifyInstance } from 'fastify';
import { authorizationServerMetadata } from '../../core/endpoints/metadata.js';
import type { HttpDeps } from '../deps.js';

/** RFC 8414 metadata (both well-known names) and the RFC 7517 JWK Set. CORS allowed (X4 RFC 9700 §2.6). */
export function discoveryRoutes(app: FastifyInstance, { ctx }: HttpDeps): void {
  // Rebuilt only when the published keys change, so a key of another algorithm rotated in at run
  // time is listed without a restart.
  let cached: { kids: string; body: string } | undefined;
  async function metadata(): Promise<string> {
    const { keys } = await ctx.keys.jwks();
    const kids = keys.map((k) => `${String(k.kid)}:${String(k.alg)}`).join(',');
    if (cached?.kids !== kids) {
      const algorithms = [...new Set(keys.map((k) => String(k.alg)))];
      cached = { kids, body: JSON.stringify(authorizationServerMetadata(ctx.settings, algorithms)) };
    }
    return cached.body;
  }
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    app.get(path, { helmet: false }, async (_request, reply) =>
      reply.type('application/json').header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=300').send(await metadata()),
    );
  }
  app.get('/jwks.json', { helmet: false }, async (_request, reply) =>
    reply
      .type('application/jwk-set+json')
      .header('access-control-allow-origin', '*')
      // Short cache so a rotated-in key is seen well within the pre-publication period.
      .header('cache-control', 'public, max-age=60')
      .send(await ctx.keys.jwks()),
  );
}
