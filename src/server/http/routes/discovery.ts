import type { FastifyInstance } from 'fastify';
import { authorizationServerMetadata } from '../../core/endpoints/metadata.js';
import type { HttpDeps } from '../deps.js';

/** RFC 8414 metadata (both well-known names) and the RFC 7517 JWK Set. CORS allowed (X4 RFC 9700 §2.6). */
export function discoveryRoutes(app: FastifyInstance, { ctx }: HttpDeps, signingAlgorithms: string[]): void {
  const metadata = JSON.stringify(authorizationServerMetadata(ctx.settings, signingAlgorithms));
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    app.get(path, { helmet: false }, async (_request, reply) =>
      reply.type('application/json').header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=300').send(metadata),
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
