import assert from 'node:assert/strict';
import { adminTokenFor } from './harness.js';

export interface EventStream {
  events: { type: string; data: Record<string, unknown> }[];
  close(): void;
}

/** Follows the gateway's server-sent event stream, collecting every event until closed. */
export async function followEvents(url: string): Promise<EventStream> {
  const controller = new AbortController();
  const token = adminTokenFor(new URL(url).origin);
  const res = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: EventStream['events'] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { events, close: () => controller.abort() };
}
