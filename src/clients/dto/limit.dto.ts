import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, Max, Min, ValidateIf } from 'class-validator';

export class UpdateLimitDto {
  @ApiProperty({ example: 20, minimum: 0, maximum: 1000000, description: 'The most agent events the client may have.' })
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  agent_event_limit!: number;

  @ApiPropertyOptional({
    example: 3600,
    nullable: true,
    minimum: 1,
    maximum: 100000000,
    description:
      "Requests per hour the client's tokens may make; null: the service's default (RATE_LIMIT_PER_HOUR). Unchanged when left out.",
  })
  @ValidateIf((_dto: object, value: unknown) => value !== undefined && value !== null)
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  rate_limit_per_hour?: number | null;
}

export class LimitResponseDto {
  @ApiProperty({ example: 20, description: 'The most agent events the client may have.' })
  agent_event_limit!: number;

  @ApiProperty({ example: 3, description: 'How many agent events the client has now.' })
  agent_event_count!: number;

  @ApiProperty({
    example: 3600,
    description: "Requests per hour the client's tokens may make (X-RateLimit-Limit): its own, else the default.",
  })
  rate_limit_per_hour!: number;
}
