import { ApiProperty } from '@nestjs/swagger';
import { AGENT_STATUSES, type AgentStatus } from '../entities/agent.entity.js';
import { AgentNumberField, AgentStatusField } from './agent-fields.js';

export class CreateRemoteAgentDto {
  @AgentNumberField(true)
  agent_number!: string;
}

export class UpdateRemoteAgentDto {
  @AgentNumberField(false)
  agent_number?: string;

  @AgentStatusField()
  status?: AgentStatus;
}

export class RemoteAgentResponseDto {
  @ApiProperty({ example: 137 }) id!: number;
  @ApiProperty({ example: '+74951234567' }) agent_number!: string;
  @ApiProperty({ enum: AGENT_STATUSES, example: 'logged_out' }) status!: AgentStatus;
}
