import { EVENT_NOT_FOUND } from '../agent-events/agent-events.errors.js';
import { errorExample } from '../common/api-errors.decorator.js';
import {
  ACCESS_DENIED,
  AGENT_NOT_FOUND,
  BAD_AGENT_ID,
  BAD_CLIENT_ID,
  BAD_EVENT_ID,
  CLIENT_NOT_FOUND,
  INVALID_TOKEN,
} from '../common/error-examples.js';

const DELIVERY_NOT_FOUND = errorExample(404, 'delivery_not_found', 'Client 12 has no delivery msg_01JDX3Q5N0W7S8T9V0X1Y2Z3A4.');
const CLIENT = [BAD_CLIENT_ID, INVALID_TOKEN, ACCESS_DENIED, CLIENT_NOT_FOUND];
const AGENT_EVENT = [
  ...CLIENT,
  errorExample(400, 'validation_failed', 'agent type must be local or remote', 'agent_type'),
  BAD_AGENT_ID,
  BAD_EVENT_ID,
  AGENT_NOT_FOUND,
  EVENT_NOT_FOUND,
];

/** The errors each delivery-log operation can answer (Swagger UI shows them; a test provokes each). */
export const DELIVERY_ERRORS = {
  listForEvent: [...AGENT_EVENT, errorExample(400, 'validation_failed', 'page must be a whole number from 1 to 10000', 'page')],
  sync: AGENT_EVENT,
  listForClient: [...CLIENT, errorExample(400, 'validation_failed', 'state must be one of: pending, succeeded, dead, superseded', 'state')],
  get: [...CLIENT, DELIVERY_NOT_FOUND],
  retry: [...CLIENT, DELIVERY_NOT_FOUND],
};
