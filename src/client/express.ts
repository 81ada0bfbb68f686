/**
 * Express adapter: one middleware that answers the sign-in routes and gives every other request
 * `req.latchkey` (the signed-in user and an API fetch with the user's token).
 *
 *   app.use(latchkeyExpress({ client }));
 *   app.get('/me', (req, res) => res.json(req.latchkey?.user ?? null));
 *
 * It uses only what every Express version (and plain node:http) offers, so it imports nothing
 * from Express.
 */
import type { BffOptions, LatchkeyContext } from './bff.js';
import { BackendForFrontend } from './bff.js';

// Lets Express applications write `req.latchkey` without their own declaration. Merges with
// @types/express when present and is harmless otherwise.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      latchkey?: LatchkeyContext;
    }
  }
}

export interface ExpressLikeRequest {
  method: string;
  /** Express keeps the full path here even under a mount point. */
  originalUrl?: string;
  url?: string;
  headers: { cookie?: string | undefined };
  latchkey?: LatchkeyContext;
}

export interface ExpressLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

export type ExpressLikeMiddleware = (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void) => void;

export function latchkeyExpress(options: BffOptions): ExpressLikeMiddleware {
  const bff = new BackendForFrontend(options);
  return (req, res, next) => {
    const cookie = req.headers.cookie;
    bff
      .handle({ method: req.method, url: req.originalUrl ?? req.url ?? '/', cookie })
      .then(async (response) => {
        if (response !== undefined) {
          res.statusCode = response.status;
          for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
          res.end(response.body);
          return;
        }
        req.latchkey = await bff.context(cookie);
        next();
      })
      .catch(next);
  };
}
