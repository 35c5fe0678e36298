// A receiver of agent-events webhooks that verifies every request before it believes it, and drops a webhook that is
// not newer (by Agent-Event-Sequence) than the last one it applied for that agent.
//   WEBHOOK_SECRET=whsec_… PORT=8080 node examples/node/receiver.mjs
// The secret is the client's: GET /client/{client_id}/signing-secret/. Needs `npm install standardwebhooks`.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const secret = process.env.WEBHOOK_SECRET;
if (!secret) throw new Error("Set WEBHOOK_SECRET to the client's signing secret (GET /client/{client_id}/signing-secret/).");
const webhook = new Webhook(secret);
/** Per agent, the highest Agent-Event-Sequence applied: a webhook not newer than it is stale (a repeat or overtaken). */
const applied = new Map();

/**
 * What was signed: for a POST the form body; for a GET the parameters agent-events appended to the URL's own query,
 * which start at `agent_status=` (the first field of every payload).
 */
function signedContent(request, body) {
  if (request.method === 'POST') return body;
  const query = request.url.slice(request.url.indexOf('?') + 1);
  return /(?:^|&)(agent_status=.*)$/.exec(query)?.[1] ?? '';
}

http
  .createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const content = signedContent(request, body);
      try {
        // The payload is a form, not JSON: `jsonParse: false`, or the library would JSON.parse it after a *valid*
        // signature and throw a SyntaxError. It checks the signature (either one during a secret rotation) and
        // refuses a timestamp more than 5 minutes away. Without the library it is a few lines of node:crypto:
        //   const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
        //   const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${content}`).digest('base64');
        //   valid = signatures.split(' ').some((s) => s === `v1,${expected}`) && Math.abs(now - timestamp) <= 300;
        // (compare with crypto.timingSafeEqual in real code).
        webhook.verify(content, request.headers, { jsonParse: false });
      } catch (error) {
        console.log(`refused ${request.headers['webhook-id'] ?? '-'}: ${error.message}`);
        response.writeHead(401).end('signature not valid');
        return;
      }
      const id = request.headers['webhook-id'];
      const fields = Object.fromEntries(new URLSearchParams(content));
      if (request.headers['agent-event-test'] === 'true') {
        console.log(`verified ${id} (test): ${JSON.stringify(fields)}`);
        response.writeHead(204).end();
        return;
      }
      // A sync (the agent's state sent on request) is applied like a change when it is newer.
      const agent = `${fields.agent_type} agent ${fields.agent_id}`;
      const sequence = Number(request.headers['agent-event-sequence']);
      if (applied.has(agent) && sequence <= applied.get(agent)) {
        console.log(`dropped ${id}: sequence ${sequence} of ${agent} is not newer than ${applied.get(agent)}`);
        response.writeHead(200).end(`dropped: not newer than sequence ${applied.get(agent)}`);
        return;
      }
      applied.set(agent, sequence);
      const sync = request.headers['agent-event-sync'] === 'true' ? ' (sync)' : '';
      console.log(`verified ${id}${sync}: ${JSON.stringify(fields)}`);
      response.writeHead(204).end();
    });
  })
  .listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => console.log('listening'));
