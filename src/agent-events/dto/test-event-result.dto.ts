import { ApiProperty } from '@nestjs/swagger';

/** What the receiver said to a test event. */
export class TestEventResultDto {
  @ApiProperty({ type: 'integer', nullable: true, example: 200, description: 'The HTTP status the receiver answered; null if none.' })
  status_code!: number | null;

  @ApiProperty({ example: 42, description: 'From sending the request to reading the answer, in milliseconds.' })
  duration_ms!: number;

  @ApiProperty({ type: 'string', nullable: true, example: 'ok', description: 'The first 512 characters of the answer.' })
  response_snippet!: string | null;

  @ApiProperty({
    type: 'string',
    nullable: true,
    example: null,
    description:
      'Why no answer came: `timeout: …`, `connection_failed: …` (refused, reset, unreachable or a name that did not resolve, ' +
      'all alike) or `target_not_allowed: …` (never the address); or a redirect not followed; null otherwise.',
  })
  error!: string | null;
}
