import { errorExample } from '../common/api-errors.decorator.js';
import { ACCESS_DENIED, BAD_CLIENT_ID, CLIENT_NOT_FOUND, INVALID_TOKEN, MALFORMED_JSON } from '../common/error-examples.js';

/** The errors each client, limit and signing-secret operation can answer (Swagger UI shows them; a test provokes each). */
const READ = [BAD_CLIENT_ID, INVALID_TOKEN, ACCESS_DENIED, CLIENT_NOT_FOUND];

export const CLIENT_ERRORS = {
  create: [
    errorExample(
      400,
      'validation_failed',
      'name must not be blank; name must be longer than or equal to 1 characters; name must be a string',
    ),
    MALFORMED_JSON,
    INVALID_TOKEN,
    ACCESS_DENIED,
    errorExample(409, 'client_exists', 'Client 12 already exists.'),
  ],
  get: READ,
  getLimit: READ,
  setLimit: [
    ...READ,
    errorExample(400, 'validation_failed', 'agent_event_limit must not be less than 0', 'agent_event_limit'),
    MALFORMED_JSON,
  ],
  getSigningSecret: READ,
  rotateSigningSecret: READ,
};
