import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { IsFreeText } from '../../common/free-text.js';
import { CLIENT_ID_PATTERN } from '../../common/id-params.js';

export class CreateClientDto {
  @ApiPropertyOptional({ example: '12', description: 'Made when not given. 1–64 letters, digits, "_" or "-".' })
  @IsOptional()
  @IsString()
  @Matches(CLIENT_ID_PATTERN, { message: 'id must be 1 to 64 letters, digits, "_" or "-"' })
  id?: string;

  @ApiProperty({ example: 'Ringme support desk', maxLength: 255 })
  @IsString()
  @Length(1, 255)
  @IsFreeText()
  name!: string;
}

export class ClientResponseDto {
  @ApiProperty({ example: '12' }) id!: string;
  @ApiProperty({ example: 'Ringme support desk' }) name!: string;
}
