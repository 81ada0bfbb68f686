import type { Settings } from '../settings.js';

/**
 * RFC 8414 §2 authorization server metadata, listing exactly what is supported. Also served as
 * /.well-known/openid-configuration for clients that only look there.
 */
export function authorizationServerMetadata(settings: Settings, signingAlgorithms: readonly string[]): Record<string, unknown> {
  const base = settings.issuer.replace(/\/$/, '');
  return {
    issuer: settings.issuer,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    jwks_uri: `${base}/jwks.json`,
    introspection_endpoint: `${base}/introspect`,
    revocation_endpoint: `${base}/revoke`,
    scopes_supported: Object.keys(settings.scopeDescriptions),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    // P5, P7 RFC 9700 §2.1.1: S256 only; plain is refused.
    code_challenge_methods_supported: ['S256'],
    // M1 RFC 9207 §3: iss on every authorization response.
    authorization_response_iss_parameter_supported: true,
    prompt_values_supported: ['none', 'login', 'consent'],
    // The algorithm access tokens (RFC 9068) are signed with; no ID tokens are issued.
    access_token_signing_alg_values_supported: signingAlgorithms,
    // RFC 8707 resource indicators.
    resource_indicators_supported: true,
  };
}
