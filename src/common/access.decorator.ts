import { SetMetadata } from '@nestjs/common';
import type { Role } from './principal.js';

export const ACCESS_KEY = 'agent-events:access';
export const PUBLIC_KEY = 'agent-events:public';

/** The roles that may call a handler; a client role may only touch its own `client_id`. */
export const Access = (...roles: Role[]) => SetMetadata(ACCESS_KEY, roles);
/** Health and docs: no token needed. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
