import { errorExample } from '../common/api-errors.decorator.js';
import { ACCESS_DENIED, BAD_CLIENT_ID, CLIENT_NOT_FOUND, INVALID_TOKEN } from '../common/error-examples.js';
import { BAD_CURSOR_MESSAGE, MAX_FEED_LIMIT } from './dto/status-change.dto.js';

/** The errors the feed can answer (Swagger UI shows them; test/openapi.e2e-spec.ts provokes each). */
export const STATUS_FEED_ERRORS = [
  BAD_CLIENT_ID,
  INVALID_TOKEN,
  ACCESS_DENIED,
  CLIENT_NOT_FOUND,
  errorExample(400, 'validation_failed', BAD_CURSOR_MESSAGE, 'after'),
  errorExample(400, 'validation_failed', `limit must be a whole number from 1 to ${MAX_FEED_LIMIT}`, 'limit'),
  errorExample(400, 'validation_failed', 'agent_type must be one of: local, remote', 'agent_type'),
  errorExample(400, 'validation_failed', 'agent_id must be a whole number from 1 to 4294967295', 'agent_id'),
];
