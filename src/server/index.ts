/** `latchkey/server`: the authorization server, its stores and its configuration. */
export { createLatchkey, type Latchkey, type LatchkeyOptions } from './server.js';
export { registerClient, registerResourceServer, createUser, RegistrationError, type ClientRegistration } from './admin.js';
export { resolveConfig, loadKeyEncryptionKey, ConfigError, type ServerConfig, type ConfigInput } from './config.js';
export { defaultSettings, type Settings } from './core/settings.js';
export { OAuthError, oauthError, errorCatalogue, type OAuthErrorCode } from './core/errors.js';
export { StoreConflictError, StoreUnavailableError } from './core/ports.js';
export type {
  Store,
  ClientRecord,
  UserRecord,
  GrantRecord,
  CodeRecord,
  RefreshTokenRecord,
  KeyRecord,
  AuditEvent,
  Clock,
  Random,
  PasswordHasher,
  KeyRing,
} from './core/ports.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './store/postgres/postgres-store.js';
export { MemoryStore } from './store/memory/memory-store.js';
export { openStore } from './store/open-store.js';
export { StoreKeyRing } from './keys/key-ring.js';
export { argon2Hasher } from './platform/password-hasher.js';
export { systemClock, ManualClock } from './platform/clock.js';
