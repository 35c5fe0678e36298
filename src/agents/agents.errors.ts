import { errorExample } from '../common/api-errors.decorator.js';
import {
  ACCESS_DENIED,
  AGENT_NOT_FOUND,
  BAD_AGENT_ID,
  BAD_CLIENT_ID,
  CLIENT_NOT_FOUND,
  INVALID_TOKEN,
  MALFORMED_JSON,
} from '../common/error-examples.js';

/** The errors each agent operation can answer (Swagger UI shows them; a test provokes each). */
const LIST = [BAD_CLIENT_ID, INVALID_TOKEN, ACCESS_DENIED, CLIENT_NOT_FOUND];
const ONE = [...LIST, BAD_AGENT_ID, AGENT_NOT_FOUND];

export const AGENT_ERRORS = {
  list: LIST,
  get: ONE,
  remove: ONE,
  createLocal: [
    ...LIST,
    errorExample(400, 'validation_failed', 'extension_name must not contain control or invisible format characters', 'extension_name'),
    MALFORMED_JSON,
    errorExample(409, 'agent_exists', 'An agent with extension_name 000*094@ringme.ru already exists in this client.'),
  ],
  createRemote: [
    ...LIST,
    errorExample(400, 'validation_failed', 'agent_number must be digits with an optional leading +, at most 31 digits', 'agent_number'),
    MALFORMED_JSON,
    errorExample(409, 'agent_exists', 'An agent with agent_number +74951234567 already exists in this client.'),
  ],
  updateLocal: [
    ...ONE,
    errorExample(400, 'validation_failed', 'status must be one of: available, logged_out', 'status'),
    MALFORMED_JSON,
    errorExample(409, 'agent_exists', 'An agent with extension_name 000*095@ringme.ru already exists in this client.'),
  ],
  updateRemote: [
    ...ONE,
    errorExample(400, 'validation_failed', 'status must be one of: available, logged_out', 'status'),
    MALFORMED_JSON,
    errorExample(409, 'agent_exists', 'An agent with agent_number +74951234568 already exists in this client.'),
  ],
};
