import type { Application } from 'express';

type Matcher = (path: string) => unknown;

/** How many paths' answers are kept (the first kept goes first). */
const RECENT_PATHS = 4096;
/** A path no API route has. */
const ANY_PATH = '/no-such-route/of/any/api';
interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  matchers?: Matcher[];
}

/**
 * The methods the app's routes answer on a path, read from Express' own router (so its matching, trailing
 * slashes included, is exactly the one requests get): an existing path asked with another method is a 405,
 * not a 404.
 */
export class RouteTable {
  private routes: { matchers: Matcher[]; methods: string[] }[] = [];
  private seenLayers = -1;
  /**
   * The answers for the paths asked recently (the same agents' paths come again and again): asking every route's
   * matcher took about 25 µs of each request (the API's CPU profile at 200 changes/s, bench/README.md).
   */
  private readonly recent = new Map<string, ReadonlySet<string>>();

  constructor(private readonly server: Application) {}

  /** Upper-case methods (HEAD with GET) of the routes matching `path`; empty when no route has this path. */
  methodsOf(path: string): ReadonlySet<string> {
    const routes = this.current();
    const known = this.recent.get(path);
    if (known) return known;
    const methods = new Set<string>();
    for (const route of routes) {
      if (!route.matchers.some((match) => this.matches(match, path))) continue;
      for (const method of route.methods) methods.add(method);
    }
    if (methods.has('GET')) methods.add('HEAD');
    if (this.recent.size >= RECENT_PATHS) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(path, methods);
    return methods;
  }

  private matches(match: Matcher, path: string): boolean {
    try {
      return Boolean(match(path));
    } catch {
      // Broken percent-encoding in a parameter: the path has this shape, and the router itself answers 400.
      return true;
    }
  }

  /** Routes are added while the app initialises; the table is rebuilt when the router has grown. */
  private current() {
    const stack = (this.server as unknown as { router: { stack: RouteLayer[] } }).router.stack;
    if (stack.length !== this.seenLayers) {
      this.seenLayers = stack.length;
      this.recent.clear();
      this.routes = stack
        // A route that matches any path is middleware mounted for every request (the request logger's), not an
        // API route: it would make every path look like an existing one.
        .filter((layer) => layer.route && layer.matchers && !layer.matchers.some((match) => this.matches(match, ANY_PATH)))
        .map((layer) => ({
          matchers: layer.matchers as Matcher[],
          methods: Object.keys(layer.route!.methods)
            .filter((method) => method !== '_all')
            .map((method) => method.toUpperCase()),
        }));
    }
    return this.routes;
  }
}
