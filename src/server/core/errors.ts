/**
 * The error catalogue. Only codes registered here reach the wire (RFC 6749 §4.1.2.1, §5.2,
 * RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2, OpenID Connect Core §3.1.2.6). The internal reason
 * goes in `detail`, which is logged and stored with the audit event but never sent to the caller.
 */

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'login_required'
  | 'consent_required'
  | 'unsupported_token_type'
  | 'server_error'
  | 'temporarily_unavailable';

interface CatalogueEntry {
  status: number;
  description: string;
}

export const errorCatalogue: Readonly<Record<OAuthErrorCode, CatalogueEntry>> = {
  invalid_request: { status: 400, description: 'The request is missing a parameter, repeats one, or is otherwise malformed.' },
  // RFC 6749 §5.2: invalid_client MAY be 401; it MUST be 401 when the Authorization header was used.
  invalid_client: { status: 401, description: 'Client authentication failed.' },
  invalid_grant: { status: 400, description: 'The authorization grant or refresh token is invalid, expired, revoked, or was issued to another client.' },
  unauthorized_client: { status: 400, description: 'The client is not allowed to use this grant type.' },
  unsupported_grant_type: { status: 400, description: 'The grant type is not supported.' },
  unsupported_response_type: { status: 400, description: 'Only response_type=code is supported.' },
  invalid_scope: { status: 400, description: 'The requested scope is invalid, unknown, or exceeds what was granted.' },
  invalid_target: { status: 400, description: 'The requested resource is not one this client may ask for.' },
  access_denied: { status: 403, description: 'The resource owner denied the request.' },
  login_required: { status: 400, description: 'The user must log in, but prompt=none was requested.' },
  consent_required: { status: 400, description: 'The user must consent, but prompt=none was requested.' },
  unsupported_token_type: { status: 400, description: 'Revocation of this token type is not supported.' },
  server_error: { status: 500, description: 'The server met an unexpected condition.' },
  temporarily_unavailable: { status: 503, description: 'The server is temporarily unable to handle the request.' },
};

export interface OAuthErrorOptions {
  /** Sent as error_description. Defaults to the catalogue's text. */
  description?: string;
  /** Machine-readable internal reason: logged and audited, never sent. */
  detail?: string;
  /**
   * RFC 6749 §4.1.2.1: false when the client or redirect_uri could not be verified, so the error
   * must be shown on the server's own page instead of being redirected.
   */
  redirectable?: boolean;
  /** HTTP status override (e.g. 413 for a body that is too large). */
  status?: number;
  /** For the error page: what was compared with what (shown in development mode, logged otherwise). */
  comparison?: { registered: string[]; received: string; difference: string };
}

export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly detail: string | undefined;
  readonly redirectable: boolean;
  readonly comparison: OAuthErrorOptions['comparison'];

  constructor(code: OAuthErrorCode, options: OAuthErrorOptions = {}) {
    const entry = errorCatalogue[code];
    const description = wireSafe(options.description ?? entry.description);
    super(description);
    this.name = 'OAuthError';
    this.code = code;
    this.status = options.status ?? entry.status;
    this.description = description;
    this.detail = options.detail;
    this.redirectable = options.redirectable ?? true;
    this.comparison = options.comparison;
  }

  /** The RFC 6749 §5.2 body. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

/**
 * RFC 6749 §4.1.2.1, §5.2: error_description "MUST NOT include characters outside the set
 * %x20-21 / %x23-5B / %x5D-7E". Descriptions may quote what the caller sent (a grant_type, a
 * parameter name), so anything else becomes "?".
 */
function wireSafe(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/gu, '?');
}

export function oauthError(code: OAuthErrorCode, options?: OAuthErrorOptions): OAuthError {
  return new OAuthError(code, options);
}

export function isOAuthError(value: unknown): value is OAuthError {
  return value instanceof OAuthError;
}
