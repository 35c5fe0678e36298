import { errorExample } from '../common/api-errors.decorator.js';
import {
  ACCESS_DENIED,
  AGENT_NOT_FOUND,
  BAD_AGENT_ID,
  BAD_CLIENT_ID,
  BAD_EVENT_ID,
  CLIENT_NOT_FOUND,
  INVALID_TOKEN,
  MALFORMED_JSON,
} from '../common/error-examples.js';

export const EVENT_NOT_FOUND = errorExample(404, 'event_not_found', 'Agent 136 has no agent event 150.');
const TARGET_NOT_ALLOWED = errorExample(
  400,
  'target_not_allowed',
  'url is not allowed: the target is a private or loopback address (or another non-public one), not in WEBHOOK_ALLOWED_CIDRS',
);
const BAD_METHOD = errorExample(400, 'validation_failed', 'method must be one of: GET, POST', 'method');

/** The errors each agent-event operation can answer (Swagger UI shows them; a test provokes each). */
const LIST = [BAD_CLIENT_ID, BAD_AGENT_ID, INVALID_TOKEN, ACCESS_DENIED, CLIENT_NOT_FOUND, AGENT_NOT_FOUND];
const ONE = [...LIST, BAD_EVENT_ID, EVENT_NOT_FOUND];

export const AGENT_EVENT_ERRORS = {
  create: [
    ...LIST,
    BAD_METHOD,
    MALFORMED_JSON,
    TARGET_NOT_ALLOWED,
    errorExample(403, 'limit_exceeded', 'Client 12 has 20 agent events, its limit is 20.'),
  ],
  list: LIST,
  get: ONE,
  update: [...ONE, BAD_METHOD, MALFORMED_JSON, TARGET_NOT_ALLOWED],
  remove: ONE,
  test: ONE,
};
