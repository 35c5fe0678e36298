/** What is queued for one delivery: its id (also the job id), its client (for fair shares) and a name for people. */
export interface DeliveryJob {
  deliveryId: string;
  clientId: string;
  name: string;
}

/** The job of a delivery, named after whose webhook it is: `client 12 · local agent 1 · agent-login · hooks.example.com`. */
export function deliveryJob(
  deliveryId: string,
  delivery: { clientId: string; agentType: string; agentId: number; eventType: string; url: string },
): DeliveryJob {
  let host: string;
  try {
    host = new URL(delivery.url).host;
  } catch {
    host = delivery.url;
  }
  return {
    deliveryId,
    clientId: delivery.clientId,
    name: `client ${delivery.clientId} · ${delivery.agentType} agent ${delivery.agentId} · ${delivery.eventType} · ${host}`,
  };
}
