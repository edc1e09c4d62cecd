import type { FastifyInstance } from 'fastify';
import type { EventBus } from '../../events.js';

/** Server-Sent Events: one `data:` line of JSON per gateway event, with a heartbeat comment. */
export function eventRoutes(app: FastifyInstance, events: EventBus): void {
  app.get('/api/v1/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.write(': connected\n\n');
    const unsubscribe = events.subscribe((event) => res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`));
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), 15_000).unref();
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
}
