/** A tiny protected API for the tests, on Fastify or Express, listening on 127.0.0.1 port 0. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  expressAuthenticate,
  expressProtectedResourceMetadata,
  expressRequireScope,
  fastifyAuthenticate,
  fastifyRequireScope,
  fastifyResourceServer,
  type ResourceServer,
} from '../../src/resource/index.js';

export interface NotesApi {
  url: string;
  close(): Promise<void>;
}

export async function startFastifyNotesApi(server: ResourceServer): Promise<NotesApi & { app: FastifyInstance }> {
  const app = Fastify({ logger: false });
  await app.register(fastifyResourceServer, { server });
  app.get('/notes', { preHandler: fastifyRequireScope(server, 'notes:read') }, async (request) => ({
    owner: request.latchkeyToken?.sub,
    notes: ['first note'],
  }));
  app.post('/notes', { preHandler: fastifyRequireScope(server, 'notes:read', 'notes:write') }, async () => ({ saved: true }));
  app.get('/me', { preHandler: fastifyAuthenticate(server) }, async (request) => ({
    sub: request.latchkeyToken?.sub,
    clientId: request.latchkeyToken?.clientId,
    scope: request.latchkeyToken?.scope,
  }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export async function startExpressNotesApi(server: ResourceServer): Promise<NotesApi> {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  if (server.resourceMetadataPath !== null) app.get(server.resourceMetadataPath, expressProtectedResourceMetadata(server));
  app.get('/notes', expressRequireScope(server, 'notes:read'), (req, res) => {
    res.json({ owner: req.latchkeyToken?.sub, notes: ['first note'] });
  });
  app.post('/notes', expressRequireScope(server, 'notes:read', 'notes:write'), (_req, res) => {
    res.json({ saved: true });
  });
  app.get('/me', expressAuthenticate(server), (req, res) => {
    res.json({ sub: req.latchkeyToken?.sub });
  });
  const listener: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = listener.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        listener.closeAllConnections();
        listener.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Parses `Bearer a="b", c="d\"e"` into its scheme and parameters (RFC 7235 §2.1). */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } {
  if (header === null) throw new Error('no WWW-Authenticate header');
  const match = /^(\S+)\s*(.*)$/.exec(header);
  if (!match) throw new Error(`bad challenge ${header}`);
  const params: Record<string, string> = {};
  const rest = match[2] ?? '';
  const param = /\s*([a-z_]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = param.exec(rest)) !== null) {
    params[m[1] as string] = (m[2] as string).replace(/\\(.)/g, '$1');
    consumed = param.lastIndex;
  }
  if (consumed !== rest.length) throw new Error(`challenge not fully parsed: ${header}`);
  return { scheme: match[1] as string, params };
}
