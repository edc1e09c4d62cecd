import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The signed manifest published next to every firmware image (`<package-uri>.manifest`).
 * The device verifies the image against it before State becomes Downloaded: size, SHA-256,
 * the operator's Ed25519 signature, its own model, and that the version is not older than the
 * one it runs (unless the manifest itself allows a downgrade).
 */
export interface FirmwareManifest {
  formatVersion: 1;
  vendor: string;
  /** Device models (LwM2M /3/0/1) the image is built for. */
  models: string[];
  name: string;
  version: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
  /** Set only by a rollout that explicitly allows installing an older version. */
  allowDowngrade?: boolean;
  issuedAt: string;
}

export interface SignedManifest {
  manifest: FirmwareManifest;
  /** Ed25519 over canonicalManifestBytes(manifest), base64. */
  signature: string;
}

export const MANIFEST_SUFFIX = '.manifest';
/** A manifest is small; anything larger is not one. */
export const MAX_MANIFEST_BYTES = 16 * 1024;

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Stable bytes to sign: JSON with keys sorted at every level. */
export function canonicalManifestBytes(manifest: FirmwareManifest): Buffer {
  return Buffer.from(canonicalJson(manifest), 'utf8');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function signManifest(manifest: FirmwareManifest, privateKey: KeyObject): SignedManifest {
  return { manifest, signature: sign(null, canonicalManifestBytes(manifest), privateKey).toString('base64') };
}

/** The trust anchor as provisioned at bootstrap: the SPKI DER of an Ed25519 public key. */
export function publicKeyFromTrustAnchor(anchor: Uint8Array): KeyObject {
  const key = createPublicKey({ key: Buffer.from(anchor), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new ManifestError('the trust anchor is not an Ed25519 key');
  return key;
}

export function trustAnchorOf(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
}

export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** Parses a manifest file; throws ManifestError on anything that is not a well-formed signed manifest. */
export function parseSignedManifest(bytes: Uint8Array): SignedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestError(`manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ManifestError('manifest is not JSON');
  }
  const p = parsed as Partial<SignedManifest>;
  if (!p || typeof p !== 'object' || typeof p.signature !== 'string' || !p.manifest || typeof p.manifest !== 'object') {
    throw new ManifestError('manifest lacks "manifest" or "signature"');
  }
  const m = p.manifest as Partial<FirmwareManifest>;
  const bad = (field: string) => new ManifestError(`manifest field "${field}" is missing or malformed`);
  if (m.formatVersion !== 1) throw new ManifestError(`unsupported manifest format ${String(m.formatVersion)}`);
  if (typeof m.vendor !== 'string') throw bad('vendor');
  if (!Array.isArray(m.models) || m.models.length === 0 || !m.models.every((x) => typeof x === 'string')) throw bad('models');
  if (typeof m.name !== 'string') throw bad('name');
  if (typeof m.version !== 'string' || m.version.length === 0) throw bad('version');
  if (!Number.isSafeInteger(m.size) || (m.size as number) < 0) throw bad('size');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) throw bad('sha256');
  if (m.allowDowngrade !== undefined && typeof m.allowDowngrade !== 'boolean') throw bad('allowDowngrade');
  if (typeof m.issuedAt !== 'string') throw bad('issuedAt');
  return { manifest: m as FirmwareManifest, signature: p.signature };
}

export function manifestSignatureValid(signed: SignedManifest, publicKey: KeyObject): boolean {
  try {
    return verify(null, canonicalManifestBytes(signed.manifest), publicKey, Buffer.from(signed.signature, 'base64'));
  } catch {
    return false;
  }
}
