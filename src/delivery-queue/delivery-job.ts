/** What is queued for one delivery: its id (also the job id) and a name that tells people in Bull Board whose it is. */
export interface DeliveryJob {
  deliveryId: string;
  name: string;
}

/** E.g. `client 12 · local agent 1 · agent-login · hooks.example.com`. */
export function deliveryJobName(delivery: {
  clientId: string;
  agentType: string;
  agentId: number;
  eventType: string;
  url: string;
}): string {
  let host: string;
  try {
    host = new URL(delivery.url).host;
  } catch {
    host = delivery.url;
  }
  return `client ${delivery.clientId} · ${delivery.agentType} agent ${delivery.agentId} · ${delivery.eventType} · ${host}`;
}
