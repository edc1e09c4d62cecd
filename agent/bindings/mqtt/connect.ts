import { connect, type IClientOptions, type MqttClient } from 'mqtt';

/** The broker refused our credentials (CONNACK 2, 4 or 5): retrying the same identity is pointless. */
export class ConnectionRefusedError extends Error {
  constructor(readonly returnCode: number) {
    super(`connection refused by the server (CONNACK ${returnCode})`);
    this.name = 'ConnectionRefusedError';
  }
}

const CREDENTIAL_REFUSALS = new Set([2, 4, 5]);

/**
 * One connection attempt, without mqtt.js' own reconnect (the binding owns retries, with jitter):
 * resolves when the broker accepts, rejects on refusal, error or timeout.
 */
export function connectOnce(url: string, options: IClientOptions, timeoutMs: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = connect(url, { ...options, reconnectPeriod: 0, connectTimeout: timeoutMs });
    const timer = setTimeout(() => fail(new Error(`no CONNACK from ${url} within ${timeoutMs} ms`)), timeoutMs + 1000);
    function cleanup() {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    }
    function fail(err: Error) {
      cleanup();
      client.end(true);
      reject(err);
    }
    function onConnect() {
      cleanup();
      resolve(client);
    }
    function onError(err: Error & { code?: number | string }) {
      fail(typeof err.code === 'number' && CREDENTIAL_REFUSALS.has(err.code) ? new ConnectionRefusedError(err.code) : err);
    }
    function onClose() {
      fail(new Error(`connection to ${url} closed before CONNACK`));
    }
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}
