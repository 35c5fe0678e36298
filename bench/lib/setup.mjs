// The bench's tenant: a client with a high agent-event limit, agents that each have an agent-login and an
// agent-logout GET event at the bench's receiver (every real change yields exactly one webhook), and sink agents.
import { pool } from './http.mjs';

/** The receiver paths of the two events: one each by default; the ordering phase puts both on one URL. */
export const DEFAULT_PATHS = { login: '/hook/login', logout: '/hook/logout' };

export async function setupTenant(
  api,
  receiver,
  { clientId, agents: agentCount, sinkAgents = 0, historyClient = 'same', paths = DEFAULT_PATHS },
) {
  await api.expect(201, 'POST', '/client/', { id: clientId, name: 'Benchmark tenant' });
  await api.expect(200, 'PUT', `/client/${clientId}/limit/`, { agent_event_limit: 1_000_000 });
  if (historyClient === 'other') await api.expect(201, 'POST', '/client/', { id: `${clientId}-history`, name: 'History tenant' });
  const names = Array.from({ length: agentCount }, (_, i) => `b${i}*094@bench.ringme.ru`);
  const agents = await pool(names, 16, async (ext) => ({
    id: (await api.expect(201, 'POST', `/client/${clientId}/agent/local/`, { extension_name: ext })).id,
    ext,
  }));
  await pool(agents, 8, async (agent) => {
    await api.expect(201, 'POST', `/client/${clientId}/agent/local/${agent.id}/event/`, {
      url: receiver.url(paths.login),
      event_type: 'agent-login',
      method: 'GET',
    });
    await api.expect(201, 'POST', `/client/${clientId}/agent/local/${agent.id}/event/`, {
      url: receiver.url(paths.logout),
      event_type: 'agent-logout',
      method: 'GET',
    });
  });
  const sinkNames = Array.from({ length: sinkAgents }, (_, i) => `sink${i}@bench.ringme.ru`);
  const sinks = await pool(
    sinkNames,
    16,
    async (ext) => (await api.expect(201, 'POST', `/client/${clientId}/agent/local/`, { extension_name: ext })).id,
  );
  return { agents, sinks };
}
