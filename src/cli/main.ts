import { Command, CommanderError, Option } from 'commander';
import pc from 'picocolors';
import { createUser, registerClient, registerResourceServer, RegistrationError } from '../server/admin.js';
import { ConfigError, loadKeyEncryptionKey } from '../server/config.js';
import { isResourceServer } from '../server/core/client-kind.js';
import type { ClientRecord, Store } from '../server/core/ports.js';
import { StoreConflictError } from '../server/core/ports.js';
import { StoreKeyRing } from '../server/keys/key-ring.js';
import { systemClock } from '../server/platform/clock.js';
import { argon2Hasher } from '../server/platform/password-hasher.js';
import { openStore } from '../server/store/open-store.js';
import { serve } from './serve.js';
import { doctorCommand } from './doctor.js';
import { eventsCommand, UsageError } from './events.js';

const program = new Command();
// Bad arguments: commander prints one `error: …` line and we exit 2 (exitOverride is inherited by
// every subcommand defined below); --help and --version still exit 0.
program
  .name('latchkey')
  .description('Latchkey: an OAuth 2.1 authorization server for the Authorization Code Grant with PKCE')
  .configureOutput({ outputError: (message, write) => write(`${message.trimEnd()} (see --help)\n`) })
  .exitOverride();

const databaseOption = () =>
  new Option('--database <path-or-url>', 'SQLite file or postgres:// URL').env('LATCHKEY_DATABASE').default('./latchkey.db');
const collect = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('serve')
  .description('run the authorization server')
  .addOption(new Option('--port <port>', 'port to listen on').env('LATCHKEY_PORT'))
  .addOption(new Option('--host <host>', 'interface to listen on').env('LATCHKEY_HOST'))
  .addOption(new Option('--issuer <url>', 'issuer identifier (RFC 8414 §2)').env('LATCHKEY_ISSUER'))
  .addOption(databaseOption())
  .addOption(new Option('--workers <n>', 'worker processes (node:cluster)').env('LATCHKEY_WORKERS').default('1'))
  .action(async (options: { port?: string; host?: string; issuer?: string; database: string; workers: string }) => {
    await serve(options);
  });

const clients = program.command('clients').description('manage OAuth clients');
clients
  .command('create')
  .description('register a client; prints client_id and, for a confidential client, the secret (once)')
  .requiredOption('--name <name>', 'name shown on the consent page')
  .option('--redirect-uri <uri>', 'a complete redirect URI (repeat for more)', collect)
  .option('--public', 'public client (no secret; PKCE only): native apps and single-page apps')
  .option('--scope <scopes>', 'space-separated scopes the client may ask for', '')
  .option('--grant-type <type>', 'authorization_code, refresh_token (repeat; default both)', collect)
  .option('--resource <uri>', 'an API (RFC 8707 resource) the client may ask tokens for (repeat)', collect)
  .option('--resource-server <audience>', 'register an API instead: it may introspect access tokens for this audience (RFC 7662), and obtains none itself')
  .option('--json', 'print one JSON object')
  .addOption(databaseOption())
  .action(
    async (o: {
      name: string;
      redirectUri?: string[];
      public?: boolean;
      scope: string;
      grantType?: string[];
      resource?: string[];
      resourceServer?: string;
      json?: boolean;
      database: string;
    }) =>
      withStore(o.database, async (store) => {
        if (o.resourceServer !== undefined) {
          if (o.redirectUri || o.public || o.scope || o.grantType || o.resource) {
            fail('--resource-server registers an API: it takes no --redirect-uri, --public, --scope, --grant-type or --resource');
          }
          const { client, clientSecret } = await registerResourceServer(store, { name: o.name, audience: o.resourceServer });
          if (o.json) return console.log(JSON.stringify({ client_id: client.id, client_secret: clientSecret }));
          console.log(`${pc.green('Resource server registered:')} ${client.name} (audience ${o.resourceServer})`);
          console.log(`  client_id      ${client.id}`);
          console.log(`  client_secret  ${clientSecret}`);
          console.log(pc.yellow('  Use these at /introspect. The secret is shown only now and is stored only as a hash.'));
          return;
        }
        const { client, clientSecret } = await registerClient(store, {
          name: o.name,
          redirectUris: o.redirectUri ?? [],
          public: o.public,
          scopes: o.scope.split(' ').filter(Boolean),
          grantTypes: o.grantType,
          resources: o.resource,
        });
        if (o.json) {
          console.log(JSON.stringify({ client_id: client.id, client_secret: clientSecret }));
          return;
        }
        console.log(`${pc.green('Client created:')} ${client.name}`);
        console.log(`  client_id      ${client.id}`);
        if (clientSecret) {
          console.log(`  client_secret  ${clientSecret}`);
          console.log(pc.yellow('  The secret is shown only now and is stored only as a hash: keep it somewhere safe.'));
        } else {
          console.log('  public client  no secret; PKCE (S256) protects the code');
        }
      }),
  );
clients
  .command('list')
  .description('list clients')
  .option('--json', 'print JSON')
  .addOption(databaseOption())
  .action(async (o: { json?: boolean; database: string }) =>
    withStore(o.database, async (store) => {
      const all = await store.listClients();
      if (o.json) return console.log(JSON.stringify(all.map(publicView)));
      if (all.length === 0) return console.log('No clients. Create one with `latchkey clients create`.');
      for (const c of all) console.log(`${c.id}  ${clientType(c).padEnd(15)}  ${c.name}  ${[...c.redirectUris, ...c.resources].join(' ')}`);
    }),
  );
clients
  .command('show <id>')
  .description('show one client')
  .addOption(databaseOption())
  .action(async (id: string, o: { database: string }) =>
    withStore(o.database, async (store) => {
      const c = await store.findClient(id);
      if (!c) return fail(`no client with id ${id}`);
      console.log(JSON.stringify(publicView(c), null, 2));
    }),
  );
clients
  .command('delete <id>')
  .description('delete a client and everything issued to it')
  .addOption(databaseOption())
  .action(async (id: string, o: { database: string }) =>
    withStore(o.database, async (store) => {
      if (!(await store.deleteClient(id))) return fail(`no client with id ${id}`);
      console.log(`Deleted client ${id} and its grants and tokens; codes issued to it can no longer be redeemed.`);
    }),
  );

const users = program.command('users').description('manage users who sign in at the authorization server');
users
  .command('create')
  .description('create a user; the password is read from standard input')
  .requiredOption('--username <name>', 'username')
  .requiredOption('--password-stdin', 'read the password from standard input')
  .addOption(databaseOption())
  .action(async (o: { username: string; database: string }) =>
    withStore(o.database, async (store) => {
      const password = (await readStdin()).replace(/\r?\n$/, '');
      const user = await createUser(store, argon2Hasher, o.username, password);
      console.log(`${pc.green('User created:')} ${user.username} (${user.id})`);
    }),
  );
users
  .command('list')
  .description('list users')
  .addOption(databaseOption())
  .action(async (o: { database: string }) =>
    withStore(o.database, async (store) => {
      const all = await store.listUsers();
      if (all.length === 0) return console.log('No users. Create one with `latchkey users create`.');
      for (const u of all) console.log(`${u.id}  ${u.username}  created ${new Date(u.createdAt).toISOString()}`);
    }),
  );
users
  .command('delete <username>')
  .description('delete a user, their sessions, consents and grants')
  .addOption(databaseOption())
  .action(async (username: string, o: { database: string }) =>
    withStore(o.database, async (store) => {
      const user = await store.findUserByUsername(username);
      if (!user || !(await store.deleteUser(user.id))) return fail(`no user named ${username}`);
      console.log(`Deleted user ${username}.`);
    }),
  );

const keys = program.command('keys').description('manage signing keys');
keys
  .command('list')
  .description("list signing keys and each one's state")
  .addOption(databaseOption())
  .action(async (o: { database: string }) =>
    withKeyRing(o.database, async (ring) => {
      for (const k of await ring.list()) {
        const when = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
        console.log(`${k.kid}  ${k.alg.padEnd(5)}  ${k.state.padEnd(7)}  created ${when(k.createdAt)}  signs from ${when(k.activatesAt)}  until ${when(k.retiresAt)}  unpublished ${when(k.expiresAt)}`);
      }
    }),
  );
keys
  .command('rotate')
  .description('add a new signing key: published now, signing after the pre-publication period')
  .option('--now', 'sign with the new key at once (resource servers with a cached JWKS refetch on the unknown kid)')
  .addOption(new Option('--alg <alg>', 'algorithm').choices(['ES256', 'RS256', 'EdDSA']))
  .addOption(databaseOption())
  .action(async (o: { now?: boolean; alg?: 'ES256' | 'RS256' | 'EdDSA'; database: string }) =>
    withKeyRing(o.database, async (ring, store) => {
      const key = await ring.rotate({ immediate: o.now, algorithm: o.alg });
      await store.appendEvent({ type: 'key.rotated', at: Date.now(), detail: { kid: key.kid, reason: 'cli' } });
      console.log(`New key ${key.kid} (${key.alg}) published; signs from ${new Date(key.activatesAt).toISOString()}.`);
    }),
  );

program
  .command('migrate')
  .description('create or update the database schema (also done at every start)')
  .addOption(databaseOption())
  .action(async (o: { database: string }) =>
    withStore(o.database, async () => {
      console.log('Database schema is up to date.');
    }),
  );

program.addCommand(eventsCommand(databaseOption).copyInheritedSettings(program));
program.addCommand(doctorCommand(databaseOption).copyInheritedSettings(program));

function clientType(c: ClientRecord): string {
  return isResourceServer(c) ? 'resource server' : c.secretHash ? 'confidential' : 'public';
}

function publicView(c: ClientRecord) {
  return {
    client_id: c.id,
    name: c.name,
    type: clientType(c),
    redirect_uris: c.redirectUris,
    scope: c.scopes.join(' '),
    grant_types: c.grantTypes,
    resources: c.resources,
    created_at: new Date(c.createdAt).toISOString(),
  };
}

async function withStore(database: string, work: (store: Store) => Promise<unknown>): Promise<void> {
  const store = await openStore(database);
  try {
    await work(store);
  } finally {
    await store.close();
  }
}

async function withKeyRing(database: string, work: (ring: StoreKeyRing, store: Store) => Promise<unknown>): Promise<void> {
  const development = process.env.NODE_ENV !== 'production';
  const kek = loadKeyEncryptionKey(database, development);
  await withStore(database, async (store) => {
    const ring = new StoreKeyRing(store, kek, systemClock, {
      algorithm: 'ES256',
      reloadIntervalMs: 0,
      prePublishMs: Number(process.env.LATCHKEY_KEY_PREPUBLISH_SECONDS ?? 120) * 1000,
      retainAfterRetireMs: (Number(process.env.LATCHKEY_ACCESS_TOKEN_TTL ?? 300) + 60) * 1000,
    });
    await work(ring, store);
  });
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function fail(message: string): never {
  throw new RegistrationError(message);
}

/** One clear line for an expected failure; never a stack trace for bad input. */
export function reportFailure(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander has already printed its one-line message.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof RegistrationError || error instanceof ConfigError || error instanceof StoreConflictError || error instanceof UsageError) {
    console.error(`${pc.red('error:')} ${error.message}`);
    return 2;
  }
  console.error(`${pc.red('error:')} ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.exitCode = reportFailure(error);
});
