/** Who is calling: the admin, the PBX, or one client (through a token of one of its applications). */
export type Principal = { role: 'admin' } | { role: 'pbx' } | { role: 'client'; clientId: string };
export type Role = Principal['role'];
