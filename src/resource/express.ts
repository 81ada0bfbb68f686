/**
 * Express adapter:
 *
 * ```ts
 * app.get(server.resourceMetadataPath!, expressProtectedResourceMetadata(server));
 * app.get('/notes', expressRequireScope(server, 'notes:read'), (req, res) => res.json(notesOf(req.latchkeyToken!.sub)));
 * ```
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { BearerRequestParts } from './bearer.js';
import type { Failure } from './challenge.js';
import type { AccessToken, ResourceServer } from './resource-server.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified access token, set by `expressRequireScope` / `expressAuthenticate`. */
      latchkeyToken?: AccessToken;
    }
  }
}

const noQuery = { has: () => false };
const formContentType = /^application\/x-www-form-urlencoded\b/i;

function partsOf(req: Request): BearerRequestParts {
  const url = req.originalUrl ?? req.url;
  const queryAt = url.indexOf('?');
  const body: unknown = req.body;
  return {
    authorization: req.headers.authorization,
    query: queryAt === -1 ? noQuery : new URLSearchParams(url.slice(queryAt + 1)),
    // Only a body some parser already read (express.urlencoded()); an unread body is never read here.
    bodyHasAccessToken:
      typeof body === 'object' &&
      body !== null &&
      Object.hasOwn(body, 'access_token') &&
      formContentType.test(req.headers['content-type'] ?? ''),
  };
}

function sendFailure(res: Response, failure: Failure): void {
  if (failure.wwwAuthenticate !== null) res.setHeader('WWW-Authenticate', failure.wwwAuthenticate);
  res.status(failure.status).setHeader('Cache-Control', 'no-store').json(failure.body);
}

/** Middleware that requires a valid token holding every one of `scopes`. */
export function expressRequireScope(server: ResourceServer, ...scopes: string[]): RequestHandler {
  const options = { scope: scopes };
  return (req: Request, res: Response, next: NextFunction) => {
    server.authenticateParts(partsOf(req), options).then((result) => {
      if (!result.ok) return sendFailure(res, result);
      req.latchkeyToken = result.token;
      next();
    }, next);
  };
}

/** Middleware that requires a valid token, whatever its scope. */
export function expressAuthenticate(server: ResourceServer): RequestHandler {
  return expressRequireScope(server);
}

/** Serves the RFC 9728 document; mount it at `server.resourceMetadataPath`. */
export function expressProtectedResourceMetadata(server: ResourceServer): RequestHandler {
  const document = server.protectedResourceMetadata();
  return (_req: Request, res: Response) => {
    res.status(200).setHeader('Cache-Control', 'max-age=300').json(document);
  };
}
