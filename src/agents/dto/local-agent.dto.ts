import { ApiProperty } from '@nestjs/swagger';
import { AGENT_STATUSES, type AgentStatus } from '../entities/agent.entity.js';
import { AgentStatusField, ExtensionNameField } from './agent-fields.js';

export class CreateLocalAgentDto {
  @ExtensionNameField(true)
  extension_name!: string;
}

export class UpdateLocalAgentDto {
  @ExtensionNameField(false)
  extension_name?: string;

  @AgentStatusField()
  status?: AgentStatus;
}

export class LocalAgentResponseDto {
  @ApiProperty({ example: 136 }) id!: number;
  @ApiProperty({ example: '000*094@ringme.ru' }) extension_name!: string;
  @ApiProperty({ enum: AGENT_STATUSES, example: 'logged_out' }) status!: AgentStatus;
}
