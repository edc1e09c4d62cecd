import type { FastifyInstance } from 'fastify';
import type { EventBus } from '../../events.js';
import type { OperatorService } from '../../operators/operator-service.js';

/** How often an open stream checks that its token still works (revoked, expired, operator deleted, password changed). */
const TOKEN_CHECK_MS = 5000;

/** Server-Sent Events: one `data:` line of JSON per gateway event, with a heartbeat comment. */
export function eventRoutes(app: FastifyInstance, events: EventBus, operators: OperatorService, checkEveryMs = TOKEN_CHECK_MS): void {
  app.get(
    '/api/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Server-sent events: device status and registrations, notifications, rollout, fleet-command and alarm progress',
        description:
          'A `text/event-stream` that stays open: per gateway event an `event: {type}` line and a `data:` line with the event as JSON ' +
          '(`device.status`, `device.registered`, `device.notification`, `rollout.progress`, `rollout.device`, `fleet.command.progress`, ' +
          '`fleet.command.device`, `alarm.raised`, `alarm.acknowledged`, `alarm.cleared`, …), and a `: heartbeat` comment every 15 s.',
        response: {
          200: {
            description: 'The event stream',
            content: { 'text/event-stream': { schema: { type: 'string', example: 'event: device.status\ndata: {"type":"device.status","endpoint":"sim-0001",...}\n\n' } } },
          },
        },
      },
    },
    (req, reply) => {
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
      // A stream outlives the request that authorised it: it ends when its token stops working.
      const tokenId = req.principal?.tokenId;
      const check = setInterval(() => {
        if (tokenId && !operators.stillValid(tokenId)) res.end();
      }, checkEveryMs).unref();
      req.raw.on('close', () => {
        clearInterval(heartbeat);
        clearInterval(check);
        unsubscribe();
      });
    },
  );
}
