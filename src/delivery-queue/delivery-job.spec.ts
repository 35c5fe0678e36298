import { deliveryJob, hostOf } from './delivery-job.js';

describe('deliveryJob', () => {
  const delivery = { clientId: '12', agentType: 'local', agentId: 1, eventType: 'agent-login' };

  it('names the job after whose webhook it is, with the host and its port, and isolates by the host name alone', () => {
    const job = deliveryJob('msg_1', { ...delivery, url: 'https://user:secret@Hooks.Example.com:8443/in?key=k' });
    expect(job).toEqual({
      deliveryId: 'msg_1',
      clientId: '12',
      host: 'hooks.example.com',
      name: 'client 12 · local agent 1 · agent-login · hooks.example.com:8443',
    });
    expect(job.host).toBe(hostOf('https://hooks.example.com:9000/other'));
  });

  it('leaves out the default port, and never the path, query or credentials', () => {
    const job = deliveryJob('msg_2', { ...delivery, url: 'http://hooks.example.com:80/path?token=t' });
    expect(job.name).toBe('client 12 · local agent 1 · agent-login · hooks.example.com');
    expect(job.host).toBe('hooks.example.com');
  });

  it('keeps a URL that does not parse as the name, with no host', () => {
    const job = deliveryJob('msg_3', { ...delivery, url: 'not a url' });
    expect(job.host).toBe('');
    expect(job.name).toBe('client 12 · local agent 1 · agent-login · not a url');
  });
});
