import { randomBytes, randomUUID } from 'node:crypto';
import { redirectUriProblem } from './core/checks/redirect-uri.js';
import { parseScope } from './core/checks/scope.js';
import { sha256 } from './core/digest.js';
import type { ClientRecord, GrantType, PasswordHasher, Store } from './core/ports.js';

/** A registration was refused; the message says which value and why. */
export class RegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistrationError';
  }
}

export interface ClientRegistration {
  name: string;
  redirectUris: string[];
  /** SECURITY.md G8: public clients (native apps, SPAs) have no secret and use PKCE alone. */
  public?: boolean;
  scopes?: string[];
  grantTypes?: string[];
  resources?: string[];
  /** Only for seeding known demo clients; normally generated. */
  clientId?: string;
}

/**
 * A resource server (an API) registered so it can call /introspect (RFC 7662 §2.1) with its own
 * credentials about access tokens issued for its audience. It has a secret, one audience, and no
 * redirect URI or grant type, so it can never obtain tokens itself.
 */
export async function registerResourceServer(
  store: Store,
  input: { name: string; audience: string; clientId?: string },
  now = Date.now(),
): Promise<{ client: ClientRecord; clientSecret: string }> {
  const name = input.name.trim();
  if (name === '' || name.length > 100) throw new RegistrationError('--name must be 1 to 100 characters');
  if (!isResourceIndicator(input.audience)) throw new RegistrationError(`--resource-server ${input.audience} must be an absolute URI without a fragment (RFC 8707 §2)`);
  const clientSecret = randomBytes(32).toString('base64url');
  const client: ClientRecord = {
    id: input.clientId ?? newClientId(),
    name,
    secretHash: sha256(clientSecret),
    redirectUris: [],
    scopes: [],
    grantTypes: [],
    resources: [input.audience],
    createdAt: now,
  };
  await store.createClient(client);
  return { client, clientSecret };
}

/**
 * 128 random bits in base64url, never beginning with "-": the CLI takes client ids as arguments
 * (`latchkey clients show ID`), where a leading "-" reads as an option. One id in 64 is drawn again.
 */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** RFC 8707 §2: a resource is an absolute URI without a fragment. */
function isResourceIndicator(value: string): boolean {
  try {
    return new URL(value).protocol !== '' && !value.includes('#');
  } catch {
    return false;
  }
}

const GRANT_TYPES: readonly GrantType[] = ['authorization_code', 'refresh_token'];

/**
 * Registers a client. The secret (256 random bits) is returned once and stored only as its
 * SHA-256 digest: it is high-entropy, so a fast digest compared in constant time is the right store.
 */
export async function registerClient(store: Store, input: ClientRegistration, now = Date.now()): Promise<{ client: ClientRecord; clientSecret: string | null }> {
  const name = input.name.trim();
  if (name === '' || name.length > 100) throw new RegistrationError('--name must be 1 to 100 characters');
  if (input.redirectUris.length === 0) throw new RegistrationError('at least one --redirect-uri is required (SECURITY.md R1: clients register complete redirect URIs)');
  for (const uri of input.redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new RegistrationError(`--redirect-uri ${uri} ${problem}`);
  }
  const scopes = input.scopes ?? [];
  const joined = scopes.join(' ');
  if (joined !== '' && !parseScope(joined)) throw new RegistrationError(`--scope "${joined}" has characters a scope may not contain (RFC 6749 §3.3)`);
  const grantTypes = input.grantTypes ?? ['authorization_code', 'refresh_token'];
  for (const g of grantTypes) {
    if (!GRANT_TYPES.includes(g as GrantType)) throw new RegistrationError(`--grant-type ${g} is not supported (use authorization_code, refresh_token)`);
  }
  if (!grantTypes.includes('authorization_code')) throw new RegistrationError('--grant-type authorization_code is required: it is the only way to obtain tokens here');
  const resources = input.resources ?? [];
  for (const r of resources) {
    if (!isResourceIndicator(r)) throw new RegistrationError(`--resource ${r} must be an absolute URI without a fragment (RFC 8707 §2)`);
  }
  const clientSecret = input.public ? null : randomBytes(32).toString('base64url');
  const client: ClientRecord = {
    id: input.clientId ?? newClientId(),
    name,
    secretHash: clientSecret === null ? null : sha256(clientSecret),
    redirectUris: [...new Set(input.redirectUris)],
    scopes: [...new Set(scopes)],
    grantTypes: [...new Set(grantTypes)] as GrantType[],
    resources: [...new Set(resources)],
    createdAt: now,
  };
  await store.createClient(client);
  return { client, clientSecret };
}

const USERNAME = /^[A-Za-z0-9._@+-]{1,64}$/;

export async function createUser(store: Store, passwords: PasswordHasher, username: string, password: string, now = Date.now()) {
  if (!USERNAME.test(username)) throw new RegistrationError('--username must be 1 to 64 letters, digits or . _ @ + -');
  if (password.length < 8) throw new RegistrationError('the password must be at least 8 characters');
  if (password.length > 1024) throw new RegistrationError('the password must be at most 1024 characters');
  const user = { id: randomUUID(), username, passwordHash: await passwords.hash(password), createdAt: now };
  await store.createUser(user);
  return user;
}
