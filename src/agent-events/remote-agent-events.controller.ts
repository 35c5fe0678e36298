import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AgentEventsController } from './agent-events.controller.js';

@ApiTags('remote agent events')
@Controller('client/:client_id/agent/remote/:agent_id/event')
export class RemoteAgentEventsController extends AgentEventsController {
  protected readonly type = 'remote';
}
