import { errorExample } from '../common/api-errors.decorator.js';
import { CLIENT_NOT_FOUND, INVALID_TOKEN, MALFORMED_JSON } from '../common/error-examples.js';

/** The errors a phone command can answer (Swagger UI shows them; a test provokes each). */
export const TELEPHONY_ERRORS = {
  command: [
    errorExample(400, 'validation_failed', 'give exactly one of extension_name (local agent) or agent_number (remote agent)'),
    MALFORMED_JSON,
    INVALID_TOKEN,
    CLIENT_NOT_FOUND,
    errorExample(404, 'agent_not_found', 'There is no local agent with extension_name 000*094@ringme.ru in client 12.'),
  ],
};
