import { Injectable, type PipeTransform } from '@nestjs/common';
import { AGENT_TYPES, type AgentType } from './entities/agent.entity.js';
import { ApiError } from '../common/api-error.js';

@Injectable()
export class AgentTypePipe implements PipeTransform<string, AgentType> {
  transform(value: string): AgentType {
    if (!(AGENT_TYPES as readonly string[]).includes(value)) throw ApiError.validation('agent type must be local or remote');
    return value as AgentType;
  }
}
