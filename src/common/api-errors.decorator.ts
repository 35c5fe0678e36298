import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

export class ErrorResponseDto {
  @ApiProperty({ example: 'Agent 136 does not exist in client 12.' })
  message!: string;

  @ApiProperty({ example: 'agent_not_found', description: 'A machine-readable code.' })
  status!: string;
}

const DESCRIPTIONS: Record<number, string> = {
  400: '`validation_failed` (names the field), `malformed_json` or `target_not_allowed`',
  401: '`invalid_token`: no or wrong bearer token',
  403: '`access_denied` (token may not use this endpoint) or `limit_exceeded`',
  404: '`client_not_found`, `agent_not_found`, `event_not_found`, `delivery_not_found` or `application_not_found`',
  409: 'the resource exists already (`client_exists`, `agent_exists`)',
};

/** Documents the `{"message", "status"}` error body for the given HTTP statuses. */
export const ApiErrors = (...statuses: number[]) =>
  applyDecorators(...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorResponseDto })));
