import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AgentsService } from '../agents/agents.service.js';
import { Access } from '../common/access.decorator.js';
import { ApiError } from '../common/api-error.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { TELEPHONY_ERRORS } from './telephony.errors.js';
import { AgentCommandDto, AgentCommandResponseDto } from './dto/agent-command.dto.js';

@ApiTags('pbx')
@ApiBearerAuth()
@Controller('pbx')
export class TelephonyController {
  constructor(private readonly agents: AgentsService) {}

  @Post('agent-command')
  @HttpCode(200)
  @Access('pbx', 'admin')
  @ApiOperation({
    summary: "A login or logout dialled on the agent's phone (PBX token); a real change fires agent events with event_source=phone",
  })
  @ApiOkResponse({ type: AgentCommandResponseDto })
  @ApiErrors(...TELEPHONY_ERRORS.command)
  async command(@Body() dto: AgentCommandDto): Promise<AgentCommandResponseDto> {
    if ((dto.extension_name === undefined) === (dto.agent_number === undefined)) {
      throw ApiError.validation('give exactly one of extension_name (local agent) or agent_number (remote agent)');
    }
    const { agent, change } = await this.agents.changeStatusByPhone(
      dto.client_id,
      { extension_name: dto.extension_name, agent_number: dto.agent_number },
      dto.command === 'login' ? 'available' : 'logged_out',
    );
    return { agent_id: agent.id, agent_type: agent.agentType, agent_status: agent.agentStatus, changed: change.changed };
  }
}
