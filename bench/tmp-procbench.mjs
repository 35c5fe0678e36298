// scratch: MariaDB CPU per status change of the change_agents procedure (not committed)
import mysql from 'mysql2/promise';
import { readFileSync } from 'node:fs';
import { ulid } from 'ulid';
import { cpuSnapshot, cpuSince, serverPids } from './lib/infra.mjs';
const url = process.env.PB_URL; const batch = Number(process.env.PB_BATCH || 1); const seconds = Number(process.env.PB_SECONDS || 5);
const variant = process.env.PB_VARIANT;
const db = await mysql.createConnection({ uri: url, multipleStatements: true });
if (variant) { await db.query('DROP PROCEDURE IF EXISTS change_agents; DROP PROCEDURE IF EXISTS change_agent_in'); for (const stmt of readFileSync(variant, 'utf8').split('\n-- next\n')) await db.query(stmt); }
const [[c]] = await db.query("SELECT COUNT(*) n FROM clients WHERE id='pb'");
if (!c.n) {
  await db.query("INSERT INTO clients (id, name, agent_event_limit, agent_event_count, signing_secret) VALUES ('pb','pb',1000000,1280,'x')");
  await db.query('INSERT INTO agents (client_id, agent_type, extension_name) VALUES ?', [Array.from({ length: 640 }, (_, i) => ['pb', 'local', `pb${i}`])]);
  const [rows] = await db.query("SELECT id FROM agents WHERE client_id='pb'");
  await db.query('INSERT INTO agent_events (client_id, agent_id, event_type, method, url) VALUES ?', [rows.flatMap(({ id }) => [['pb', id, 'agent-login', 'GET', 'http://x/l'], ['pb', id, 'agent-logout', 'GET', 'http://x/o']])]);
}
const [agents] = await db.query("SELECT id, agent_status AS status FROM agents WHERE client_id='pb' ORDER BY id");
const pool = mysql.createPool({ uri: url, connectionLimit: 64, timezone: 'Z' });
let stop = false; let changes = 0;
const loop = async () => { while (!stop) { const picked = agents.splice(0, batch); if (picked.length < batch) { agents.push(...picked); await new Promise((r) => setTimeout(r, 1)); continue; }
  const json = JSON.stringify(picked.map((a) => ({ client: 'pb', type: 'local', agent: a.id, status: (a.status = a.status === 'available' ? 'logged_out' : 'available'), source: 'api', id_base: `msg_${ulid()}`.slice(0, 26) })));
  await pool.query('CALL change_agents(?, ?)', [json, new Date()]); changes += batch; agents.push(...picked); } };
const pids = serverPids(); const ls = Array.from({ length: Math.floor(64 / batch) }, loop);
await new Promise((r) => setTimeout(r, 1000)); const c0 = changes; const before = cpuSnapshot({ mysql: pids.mysql });
await new Promise((r) => setTimeout(r, seconds * 1000)); const after = cpuSnapshot({ mysql: pids.mysql }); const n = changes - c0; stop = true; await Promise.all(ls);
const cpu = cpuSince(before, after);
console.log(`batch ${batch}: ${(n / seconds).toFixed(0)} changes/s, MariaDB ${((cpu.cpuSeconds.mysql * 1000) / n).toFixed(3)} ms/change, bench ${((cpu.cpuSeconds.bench * 1000) / n).toFixed(3)}`);
await pool.end(); await db.end();
