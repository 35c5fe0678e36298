import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { IsFreeText } from '../../common/free-text.js';

export class CreateApplicationDto {
  @ApiProperty({ example: 'CRM integration', maxLength: 255 })
  @IsString()
  @Length(1, 255)
  @IsFreeText()
  name!: string;
}

export class ApplicationResponseDto {
  @ApiProperty({ example: '3f9c2d7a1b6e4c0d8a5f7e21', description: "The application's id: the OAuth2 client_id." })
  client_id!: string;

  @ApiProperty({ example: 'CRM integration' })
  name!: string;

  @ApiProperty({ example: '2026-11-26T12:00:00.000Z' })
  created_at!: string;
}

export class CreatedApplicationDto extends ApplicationResponseDto {
  @ApiProperty({ example: 'mM3s0Yx4m1WJvQ2o8Jb7cRk9e0pLhT5aUfZ6nD1qG2w', description: 'Shown only in this answer; kept only as a hash.' })
  client_secret!: string;
}
