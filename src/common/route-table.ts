import type { FastifyInstance } from 'fastify';
import Router from 'find-my-way';
import { ROUTER_OPTIONS } from './http-platform.js';

const noop = () => undefined;

/**
 * The methods the app's routes answer on a path, from a router of its own that gets every route the server gets
 * (Fastify's `onRoute` hook), with the server's router options, so its matching (trailing slashes, case) is exactly
 * the one requests get: an existing path asked with another method is a 405, not a 404. Asked only for requests no
 * route took.
 */
export class RouteTable {
  private readonly router = Router(ROUTER_OPTIONS);
  /** `METHOD url` of every route added, and the methods any route has. */
  private readonly added = new Set<string>();
  private readonly methods = new Set<string>();

  /** Follows the routes `server` gets from now on (call it before the app registers its routes). */
  constructor(server: FastifyInstance) {
    server.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        if (this.added.has(`${method} ${route.url}`)) continue;
        this.added.add(`${method} ${route.url}`);
        this.methods.add(method);
        this.router.on(method as Router.HTTPMethod, route.url, noop);
      }
    });
  }

  /** Every route added, as `METHOD url` (the url as registered: `/client/:client_id/`). */
  list(): string[] {
    return [...this.added];
  }

  /** Upper-case methods (HEAD with GET) of the routes matching `path`; empty when no route has this path. */
  methodsOf(url: string): ReadonlySet<string> {
    const path = url.split('?')[0];
    const found = new Set<string>();
    for (const method of this.methods) {
      try {
        if (this.router.find(method as Router.HTTPMethod, path)) found.add(method);
      } catch {
        // Broken percent-encoding in a parameter: the path has this shape.
        found.add(method);
      }
    }
    if (found.has('GET')) found.add('HEAD');
    return found;
  }
}
