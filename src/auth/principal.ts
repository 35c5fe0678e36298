/** Who is calling: the admin, the PBX, or (later, with per-client credentials) one client. */
export type Principal = { role: 'admin' } | { role: 'pbx' } | { role: 'client'; clientId: string };
export type Role = Principal['role'];
