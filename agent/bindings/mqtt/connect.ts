import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { connect, MqttClient, type IClientOptions } from 'mqtt';
import type { Radio } from '../../host/host-adapter.js';

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
 * resolves when the broker accepts, rejects on refusal, error or timeout. With a radio, the
 * connection goes through it rather than straight to the operating system.
 */
export function connectOnce(url: string, options: IClientOptions, timeoutMs: number, radio?: Radio): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const settings = { ...options, reconnectPeriod: 0, connectTimeout: timeoutMs };
    const client = radio ? connectThrough(radio, url, settings) : connect(url, settings);
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

/** An MQTT client whose TCP stream (TLS for mqtts:) is opened by the device's radio. */
function connectThrough(radio: Radio, url: string, options: IClientOptions): MqttClient {
  const target = new URL(url);
  const secure = target.protocol === 'mqtts:';
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port) || (secure ? 8883 : 1883);
  const stream = () => {
    const socket = radio.connect(host, port);
    // SNI takes host names only (RFC 6066 §3); the certificate is still checked against an IP address.
    return secure ? tlsConnect({ socket, ...(isIP(host) ? {} : { servername: host }), ...(options.ca ? { ca: options.ca } : {}), rejectUnauthorized: options.rejectUnauthorized !== false }) : socket;
  };
  const client = new MqttClient(stream, { ...options, host, port, protocol: secure ? 'mqtts' : 'mqtt' });
  // As mqtt.connect does: an error after the attempt is settled must not go unhandled.
  client.on('error', () => {});
  return client;
}
