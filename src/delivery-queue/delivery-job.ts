/**
 * What is queued for one delivery: its id (also the job id), its client (for fair shares), its receiver's host (the
 * worker asks for the host's slot while it loads the delivery) and a name for people.
 */
export interface DeliveryJob {
  deliveryId: string;
  clientId: string;
  host: string;
  name: string;
}

/** Deliveries are isolated per host name (any port): one receiver machine, one limit and one circuit. */
export function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

/** The job of a delivery, named after whose webhook it is: `client 12 · local agent 1 · agent-login · hooks.example.com`. */
export function deliveryJob(
  deliveryId: string,
  delivery: { clientId: string; agentType: string; agentId: number; eventType: string; url: string },
): DeliveryJob {
  // One parse of the URL for both: the host name (isolation) and the host with its port (the name).
  let url: URL | undefined;
  try {
    url = new URL(delivery.url);
  } catch {
    // Not a URL: no host, and the name shows it as it is.
  }
  return {
    deliveryId,
    clientId: delivery.clientId,
    host: url?.hostname ?? '',
    name: `client ${delivery.clientId} · ${delivery.agentType} agent ${delivery.agentId} · ${delivery.eventType} · ${url?.host ?? delivery.url}`,
  };
}
