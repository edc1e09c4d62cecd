import { FirmwareProtocol } from '../../protocol/firmware/index.js';
import { coapSource } from './coap-download.js';
import { httpSource } from './http-download.js';
import type { PackageSource } from './package-source.js';

/** A way of pulling packages, by URI scheme, and how /5/0/8 announces it. */
export interface SchemeSource {
  source: PackageSource;
  /** A /5/0/8 value (FirmwareProtocol). */
  protocol: number;
}

/** The pull protocols this agent speaks, keyed by URL scheme (`http:`), in the order /5/0/8 lists them. */
export const defaultPackageSources: ReadonlyMap<string, SchemeSource> = new Map([
  ['http:', { source: httpSource, protocol: FirmwareProtocol.HTTP }],
  ['https:', { source: httpSource, protocol: FirmwareProtocol.HTTPS }],
  ['coap:', { source: coapSource, protocol: FirmwareProtocol.COAP }],
]);
