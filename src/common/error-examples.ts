import { errorExample } from './api-errors.decorator.js';

/** Errors many operations share, as the API words them; each feature lists its operations' errors beside its controllers. */
export const INVALID_TOKEN = errorExample(401, 'invalid_token', 'A valid "Authorization: Bearer <token>" header is required.');
export const ACCESS_DENIED = errorExample(403, 'access_denied', 'This token may not use this endpoint.');
export const MALFORMED_JSON = errorExample(400, 'malformed_json', 'The request body is not valid JSON.');
export const BAD_CLIENT_ID = errorExample(400, 'validation_failed', 'client_id must be 1 to 64 letters, digits, "_" or "-"', 'client_id');
export const BAD_AGENT_ID = errorExample(400, 'validation_failed', 'agent_id must be a positive integer', 'agent_id');
export const BAD_EVENT_ID = errorExample(400, 'validation_failed', 'event_id must be a positive integer', 'event_id');
export const CLIENT_NOT_FOUND = errorExample(404, 'client_not_found', 'Client 12 does not exist.');
/** On a remote agent's path the API says "remote agent"; `documentAgentTypes` words it so there. */
export const AGENT_NOT_FOUND = errorExample(404, 'agent_not_found', 'There is no local agent 136 in client 12.');
