import { open } from 'node:fs/promises';
import type { OutgoingMessage } from 'coap';
import type { Logger } from '../../common/logger.js';
import { ContentFormat } from '../../protocol/coap/index.js';
import { MANIFEST_SUFFIX } from '../../protocol/firmware/index.js';
import type { Firmware, FirmwareRepository, Transfer } from '../firmware/firmware-repository.js';
import { respondBlock } from './block2-response.js';
import { respondError } from '../../common/coap/coap-response.js';
import type { CoapHandler, CoapRequest } from '../../common/coap/coap-router.js';
import { ManifestCache } from './manifest-cache.js';

/**
 * `GET coap://…/fw/{transfer}/{name}-{version}.bin` and the same with `.manifest`: the CoAP twin
 * of the HTTP download route. The transfer id is the capability (logged only shortened); each
 * image block is read from the stored file on its own, and its payload bytes are counted on the
 * transfer, so a resumed download shows as such in the byte counters.
 */
export function firmwareResource(firmware: FirmwareRepository, log: Logger): CoapHandler {
  const manifests = new ManifestCache();
  return async (req, res) => {
    if (req.method !== 'GET') return respondError(res, '4.05', 'firmware is fetched with GET');
    const [, transferId, file, ...rest] = req.path;
    const transfer = transferId && file && rest.length === 0 ? firmware.transfer(transferId) : undefined;
    const image = transfer && firmware.get(transfer.firmwareId);
    if (!transfer || !image || !file) return respondError(res, '4.04', 'no such firmware transfer');

    if (file.endsWith(MANIFEST_SUFFIX)) {
      const manifest = manifests.get(transfer.id, () => JSON.stringify(firmware.manifest(image, { allowDowngrade: transfer.allowDowngrade })));
      await respondBlock(req, res, {
        size: manifest.bytes.length,
        etag: manifest.etag,
        contentFormat: ContentFormat.JSON,
        read: async (offset, length) => manifest.bytes.subarray(offset, offset + length),
        maxAge: 0,
      });
      return;
    }
    await serveImageBlock(req, res, firmware, transfer, image, log);
  };
}

async function serveImageBlock(req: CoapRequest, res: OutgoingMessage, firmware: FirmwareRepository, transfer: Transfer, image: Firmware, log: Logger): Promise<void> {
  const file = await open(firmware.imagePath(image), 'r');
  let sent: number;
  try {
    // The file's own size, not the recorded one: a damaged store must not make blocks lie about M.
    const { size } = await file.stat();
    sent = await respondBlock(req, res, {
      size,
      etag: Buffer.from(image.sha256.slice(0, 16), 'hex'),
      contentFormat: ContentFormat.OCTET_STREAM,
      read: async (offset, length) => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await file.read(buffer, 0, length, offset);
        return buffer.subarray(0, bytesRead);
      },
    });
  } finally {
    await file.close();
  }
  if (sent > 0) firmware.countServed(transfer.id, sent);
  log.trace({ transfer: shortId(transfer.id), firmware: image.id, bytes: sent }, 'firmware block served over CoAP');
}

/** Enough of a transfer id to tell transfers apart in logs, not enough to use it. */
export function shortId(id: string): string {
  return `${id.slice(0, 6)}…`;
}
