import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AgentEventsController } from './agent-events.controller.js';

@ApiTags('local agent events')
@Controller('client/:client_id/agent/local/:agent_id/event')
export class LocalAgentEventsController extends AgentEventsController {
  protected readonly type = 'local';
}
