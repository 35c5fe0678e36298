import { Injectable } from '@nestjs/common';
import { AgentsService } from '../agents/agents.service.js';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { SigningSecretsService } from '../clients/signing-secrets.service.js';
import { newMessageId } from '../common/message-id.js';
import { WebhookSenderService } from '../webhook-sender/webhook-sender.service.js';
import { agentEventPayload } from '../status/status-rules.js';
import { AgentEventsService } from './agent-events.service.js';
import type { TestEventResultDto } from './dto/test-event-result.dto.js';

/** The header that tells a receiver the request is a test, not a real status change (the payload stays as specified). */
export const TEST_EVENT_HEADER = 'Agent-Event-Test';

/**
 * Sends a sample of what the agent event would receive, now, signed like any webhook, so a receiver can be wired
 * without logging an agent in. Nothing is written: no status change, no delivery, no attempt.
 */
@Injectable()
export class AgentEventTestService {
  constructor(
    private readonly events: AgentEventsService,
    private readonly agents: AgentsService,
    private readonly secrets: SigningSecretsService,
    private readonly sender: WebhookSenderService,
  ) {}

  async send(clientId: string, type: AgentType, agentId: number, eventId: number): Promise<TestEventResultDto> {
    const event = await this.events.require(clientId, type, agentId, eventId);
    const agent = await this.agents.require(clientId, type, agentId);
    const agentStatus = event.eventType === 'agent-login' ? 'available' : 'logged_out';
    const result = await this.sender.send({
      id: newMessageId(),
      method: event.method,
      url: event.url,
      payload: agentEventPayload({
        agentStatus,
        agentType: agent.agentType,
        eventSource: 'api',
        agentId: agent.id,
        agentName: agent.agentType === 'local' ? agent.extensionName : agent.agentNumber,
      }),
      secrets: await this.secrets.secretsInForce(clientId),
      // 0: no real status change has this number, so a receiver that orders by it never mistakes a test for one.
      sequence: 0,
      changedAt: new Date(),
      extraHeaders: { [TEST_EVENT_HEADER]: 'true' },
    });
    return {
      status_code: result.statusCode,
      duration_ms: result.durationMs,
      response_snippet: result.responseSnippet,
      error: result.error,
    };
  }
}
