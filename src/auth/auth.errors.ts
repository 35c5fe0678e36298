import { errorExample } from '../common/api-errors.decorator.js';

/** The errors of POST /oauth/token, in RFC 6749's words. */
export const TOKEN_ERRORS = [
  errorExample(400, 'invalid_request', 'grant_type is required: client_credentials.'),
  errorExample(400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported.'),
  errorExample(401, 'invalid_client', 'Unknown client_id or wrong client_secret.'),
];
