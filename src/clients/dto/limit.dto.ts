import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

export class UpdateLimitDto {
  @ApiProperty({ example: 20, minimum: 0, maximum: 1000000, description: 'The most agent events the client may have.' })
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  agent_event_limit!: number;
}

export class LimitResponseDto {
  @ApiProperty({ example: 20, description: 'The most agent events the client may have.' })
  agent_event_limit!: number;

  @ApiProperty({ example: 3, description: 'How many agent events the client has now.' })
  agent_event_count!: number;
}
