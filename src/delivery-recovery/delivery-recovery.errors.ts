import { errorExample } from '../common/api-errors.decorator.js';
import { ACCESS_DENIED, BAD_CLIENT_ID, CLIENT_NOT_FOUND, INVALID_TOKEN, MALFORMED_JSON } from '../common/error-examples.js';
import { SINCE_FORMAT, SINCE_IN_FUTURE } from './dto/recovery.dto.js';

const CLIENT = [BAD_CLIENT_ID, INVALID_TOKEN, ACCESS_DENIED, CLIENT_NOT_FOUND];

/** The errors each recovery operation can answer (Swagger UI shows them; a test provokes each). */
export const RECOVERY_ERRORS = {
  start: [
    ...CLIENT,
    MALFORMED_JSON,
    errorExample(400, 'validation_failed', SINCE_FORMAT, 'since'),
    errorExample(400, 'validation_failed', SINCE_IN_FUTURE, 'future'),
    errorExample(400, 'validation_failed', 'agent_event_id must be a positive integer', 'agent_event_id'),
    errorExample(400, 'validation_failed', 'state must be one of: dead', 'state'),
  ],
  get: [...CLIENT, errorExample(404, 'recovery_not_found', 'Client 12 has no recovery rec_01JDX3Q5N0W7S8T9V0X1Y2Z3A4.')],
};
