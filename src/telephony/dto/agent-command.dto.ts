import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, Matches, ValidateIf } from 'class-validator';
import { AgentNumberField, ExtensionNameField } from '../../agents/dto/agent-fields.js';
import { AGENT_STATUSES, AGENT_TYPES, type AgentStatus, type AgentType } from '../../agents/entities/agent.entity.js';
import { CLIENT_ID_PATTERN } from '../../common/id-params.js';

export const AGENT_COMMANDS = ['login', 'logout'] as const;

/** A login/logout dialled on the agent's own phone, as the PBX reports it. Name the agent by exactly one field. */
export class AgentCommandDto {
  @ApiProperty({ example: '12' })
  @IsString()
  @Matches(CLIENT_ID_PATTERN, { message: 'client_id must be 1 to 64 letters, digits, "_" or "-"' })
  client_id!: string;

  @ValidateIf((dto: AgentCommandDto) => dto.agent_number === undefined || dto.extension_name !== undefined)
  @ExtensionNameField(false)
  extension_name?: string;

  @ValidateIf((dto: AgentCommandDto) => dto.extension_name === undefined || dto.agent_number !== undefined)
  @AgentNumberField(false)
  agent_number?: string;

  @ApiProperty({ enum: AGENT_COMMANDS, example: 'login' })
  @IsIn(AGENT_COMMANDS, { message: `command must be one of: ${AGENT_COMMANDS.join(', ')}` })
  command!: (typeof AGENT_COMMANDS)[number];
}

export class AgentCommandResponseDto {
  @ApiProperty({ example: 136 }) agent_id!: number;
  @ApiProperty({ enum: AGENT_TYPES, example: 'local' }) agent_type!: AgentType;
  @ApiProperty({ enum: AGENT_STATUSES, example: 'available' }) agent_status!: AgentStatus;
  @ApiPropertyOptional({ example: true, description: 'false when the agent already had that status: nothing was sent' })
  changed!: boolean;
}
