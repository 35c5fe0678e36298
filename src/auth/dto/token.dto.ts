import { ApiProperty } from '@nestjs/swagger';

/** RFC 6749 4.4.2; the credentials may come in HTTP Basic instead (RFC 6749 2.3.1). For the docs only: the body is read by hand. */
export class TokenRequestDto {
  @ApiProperty({ example: 'client_credentials', enum: ['client_credentials'] })
  grant_type!: string;

  @ApiProperty({ example: '3f9c2d7a1b6e4c0d8a5f7e21', required: false, description: "The application's id (or in HTTP Basic)." })
  client_id?: string;

  @ApiProperty({
    example: 'mM3s0Yx4m1WJvQ2o8Jb7cRk9e0pLhT5aUfZ6nD1qG2w',
    required: false,
    description: "The application's secret (or in HTTP Basic).",
  })
  client_secret?: string;
}

export class TokenResponseDto {
  @ApiProperty({ example: '3f9c2d7a1b6e4c0d8a5f7e21.12.1795000000.Zq3…' })
  access_token!: string;

  @ApiProperty({ example: 'bearer' })
  token_type!: 'bearer';

  @ApiProperty({ example: 3600, description: 'Seconds the token stays valid (TOKEN_TTL_SECONDS).' })
  expires_in!: number;
}
