import { EventEmitter } from 'node:events';
import { connect as tcpConnect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Radio } from '../../agent/host/host-adapter.js';
import type { FetchOptions, PackageSource } from '../../agent/firmware/package-source.js';
import type { SchemeSource } from '../../agent/firmware/sources.js';
import { laggingUplink } from './lagging-uplink.js';

export interface SimulatedRadioOptions {
  /** Download speed of pulled firmware images, bytes per second; unlimited when absent. */
  downloadBytesPerSecond?: number;
  /** What the device sends over its connections leaves this much later (the `slow` profile); none when absent. */
  uplinkDelayMs?: number;
}

export interface SimulatedRadioEvents {
  /** Bytes of a pulled image reached the device's disk. */
  downloaded: [bytes: number];
}

/** Bytes of a pulled image that land at a time over a paced link. */
const PACED_PIECE_BYTES = 4096;

/** The link is down (dropped, or the device has no power): what a connection attempt meets. */
export class LinkDownError extends Error {
  readonly code = 'ENETUNREACH';
  constructor(message = 'no network: the radio link is down') {
    super(message);
    this.name = 'LinkDownError';
  }
}

/**
 * The simulated device's radio: every connection of the agent (MQTT) and every firmware
 * download goes through it, so the link can be dropped (connections cut, downloads
 * interrupted, new attempts refused until it is back), slowed (downloads paced at
 * `downloadBytesPerSecond`) or lose its power with the rest of the device.
 */
export class SimulatedRadio extends EventEmitter<SimulatedRadioEvents> implements Radio {
  /** Link drops so far. */
  drops = 0;
  /** Connections (MQTT sessions) a drop cut. */
  connectionsCut = 0;
  /** Downloads a drop interrupted. */
  downloadsCut = 0;
  /** Bytes of pulled images that reached the disk, over all attempts. */
  bytesDownloaded = 0;
  private up = true;
  private powered = true;
  /** Changes at each power cut: work begun before it never continues. */
  private epoch = 0;
  private readonly sockets = new Set<Socket>();
  private readonly downloads = new Set<AbortController>();
  private restore: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SimulatedRadioOptions = {}) {
    super();
  }

  get linkUp(): boolean {
    return this.up && this.powered;
  }

  connect(host: string, port: number): Duplex {
    if (!this.linkUp) {
      const socket = new Socket();
      process.nextTick(() => socket.destroy(new LinkDownError()));
      return socket;
    }
    const socket = tcpConnect({ host, port });
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const lag = this.opts.uplinkDelayMs;
    return lag ? laggingUplink(socket, lag) : socket;
  }

  /** The link goes down for `outageMs`: connections are cut, downloads interrupted, new attempts refused. */
  drop(outageMs: number): void {
    if (!this.powered) return;
    this.drops++;
    this.up = false;
    this.connectionsCut += this.sockets.size;
    this.downloadsCut += this.downloads.size;
    this.cutEverything(new LinkDownError('the radio link dropped'));
    if (this.restore) clearTimeout(this.restore);
    this.restore = setTimeout(() => {
      this.restore = undefined;
      this.up = true;
    }, outageMs);
  }

  /** The device loses power: connections die with it; downloads under way never take another byte. */
  powerCut(): void {
    this.powered = false;
    this.epoch++;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  powerOn(): void {
    this.powered = true;
  }

  /** Ends the outage timer (the device is put away). */
  close(): void {
    if (this.restore) clearTimeout(this.restore);
    this.restore = undefined;
  }

  /** The agent's package sources, each pulling through this radio. */
  packageSources(sources: ReadonlyMap<string, SchemeSource>): Map<string, SchemeSource> {
    return new Map([...sources].map(([scheme, s]) => [scheme, { ...s, source: this.wrap(s.source) }]));
  }

  private wrap(inner: PackageSource): PackageSource {
    return {
      fetchSmall: (uri, maxBytes, signal) => this.through(signal, (s) => inner.fetchSmall(uri, maxBytes, s)),
      fetchResumable: (uri, file, opts: FetchOptions) =>
        this.through(opts.signal, (s) =>
          inner.fetchResumable(uri, file, {
            ...opts,
            signal: s,
            // A slow link brings an image in small pieces, so a cut finds it part way.
            ...(this.opts.downloadBytesPerSecond ? { pacePieceBytes: PACED_PIECE_BYTES } : {}),
            pace: async (bytes) => {
              await this.pace(bytes, s);
              await opts.pace?.(bytes);
            },
          }),
        ),
    };
  }

  /** Runs one fetch over the link: refused while it is down, interrupted when it drops. */
  private async through<T>(outer: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!this.linkUp) throw new LinkDownError();
    const controller = new AbortController();
    const forward = () => controller.abort(outer?.reason);
    if (outer?.aborted) forward();
    outer?.addEventListener('abort', forward, { once: true });
    this.downloads.add(controller);
    try {
      return await run(controller.signal);
    } catch (err) {
      // Cut by a drop (not by the agent itself): say so, rather than "aborted".
      if (controller.signal.aborted && !outer?.aborted && controller.signal.reason instanceof LinkDownError) throw controller.signal.reason;
      throw err;
    } finally {
      this.downloads.delete(controller);
      outer?.removeEventListener('abort', forward);
    }
  }

  /** After each piece is on disk: count it, then hold the next one back to the link's speed. */
  private async pace(bytes: number, signal: AbortSignal): Promise<void> {
    const epoch = this.epoch;
    this.bytesDownloaded += bytes;
    this.emit('downloaded', bytes);
    const rate = this.opts.downloadBytesPerSecond;
    if (rate !== undefined && rate > 0) await abortableDelay((bytes / rate) * 1000, signal);
    // Power lost meanwhile: nothing runs on (until the agent, stopping, aborts the fetch).
    if (epoch !== this.epoch || !this.powered) await abortableDelay(Infinity, signal);
    signal.throwIfAborted();
  }

  private cutEverything(reason: Error): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    for (const download of this.downloads) download.abort(reason);
  }
}

/** Waits `ms` (for ever with Infinity) unless the signal aborts first, which rejects. */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    function done() {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      if (timer) clearTimeout(timer);
      reject(signal.reason as Error);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
