import { errorExample } from '../common/api-errors.decorator.js';
import { ACCESS_DENIED, BAD_CLIENT_ID, CLIENT_NOT_FOUND, INVALID_TOKEN, MALFORMED_JSON } from '../common/error-examples.js';

/** The errors each application operation can answer (Swagger UI shows them; a test provokes each). */
const READ = [BAD_CLIENT_ID, INVALID_TOKEN, ACCESS_DENIED, CLIENT_NOT_FOUND];

export const APPLICATION_ERRORS = {
  create: [
    ...READ,
    errorExample(400, 'validation_failed', 'name must not be blank; name must be longer than or equal to 1 characters', 'name'),
    MALFORMED_JSON,
  ],
  list: READ,
  remove: [...READ, errorExample(404, 'application_not_found', 'Application 3f9c2d7a1b6e4c0d8a5f7e21 does not exist in client 12.')],
};
