import type { CoreContext } from '../core/context.js';
import type { CookieSettings } from './cookies.js';

export interface HttpDeps {
  ctx: CoreContext;
  cookies: CookieSettings;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors on this route render an HTML page instead of an RFC 6749 §5.2 JSON body. */
    page?: boolean;
  }
}
