import { isValidEndpointName } from '../../../protocol/endpoint.js';
import type { Link } from '../../../protocol/model/index.js';
import { parseAnnouncedFormats } from '../../../protocol/lwm2m/index.js';

/** LwM2M versions the server accepts (`lwm2m=` of Register; absent means 1.0). */
export const SUPPORTED_LWM2M_VERSIONS = ['1.0', '1.1', '1.2'] as const;

/** Lifetime when a Register omits `lt` (LwM2M 1.1 §6.2.1, Table 6.2.1-1). */
export const DEFAULT_LIFETIME_SECONDS = 86_400;

export class RegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistrationError';
  }
}

/** What a client told the server in Register (and later Updates). */
export interface RegistrationParams {
  endpoint: string;
  lifetime: number;
  lwm2mVersion: string;
  binding: string;
  /** Queue mode: `b=UQ` from 1.0 clients, the `Q` parameter from 1.1 clients. */
  queueMode: boolean;
  smsNumber?: string;
  objectLinks: Link[];
  /** Alternate path of the objects (`</lwm2m>;rt="oma.lwm2m"`): segments prepended to every request. */
  rootPath: string[];
  /** Content formats the client announced with `ct` on its root link (LwM2M 1.1). */
  announcedFormats: number[];
}

/** Query parameters as `key=value` or bare `key` (the `Q` flag). */
export function parseQuery(query: readonly string[]): Map<string, string | undefined> {
  const params = new Map<string, string | undefined>();
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    if (params.has(name)) throw new RegistrationError(`parameter "${name}" given twice`);
    params.set(name, eq < 0 ? undefined : q.slice(eq + 1));
  }
  return params;
}

/** 1.0 binding modes (`U`, `UQ`, `S`, `SQ`, `US`, `UQS`) and 1.1 ones (letters of U, M, H, T, S, N). */
const BINDING = /^(?:U|UQ|S|SQ|US|UQS|[UMHTSN]{1,6})$/;

function lifetimeOf(value: string | undefined): number {
  if (value === undefined || !/^\d{1,10}$/.test(value)) throw new RegistrationError(`lifetime "lt=${value ?? ''}" must be a number of seconds`);
  const lt = Number(value);
  if (lt < 1 || lt > 0xffffffff) throw new RegistrationError(`lifetime ${lt} out of range`);
  return lt;
}

function bindingOf(value: string | undefined): { binding: string; queue: boolean } {
  if (value === undefined || !BINDING.test(value)) throw new RegistrationError(`binding "b=${value ?? ''}" is not an LwM2M binding mode`);
  // 1.0 writes queue mode into the binding; 1.1 has its own parameter.
  return { binding: value.replace('Q', ''), queue: value.includes('Q') };
}

/** Register (POST /rd?ep=…): validates every parameter; RegistrationError names the first bad one. */
export function parseRegister(query: readonly string[], links: Link[]): RegistrationParams {
  const p = parseQuery(query);
  const endpoint = p.get('ep');
  if (endpoint === undefined || endpoint === '') throw new RegistrationError('the endpoint name "ep" is missing');
  if (!isValidEndpointName(endpoint)) throw new RegistrationError(`endpoint name "${endpoint.slice(0, 128)}" is not valid here (1–128 of A–Z a–z 0–9 . _ : -)`);
  const lwm2mVersion = p.get('lwm2m') ?? '1.0';
  if (!(SUPPORTED_LWM2M_VERSIONS as readonly string[]).includes(lwm2mVersion)) {
    throw new RegistrationError(`LwM2M version "${lwm2mVersion}" is not supported (${SUPPORTED_LWM2M_VERSIONS.join(', ')})`);
  }
  const lifetime = p.has('lt') ? lifetimeOf(p.get('lt')) : DEFAULT_LIFETIME_SECONDS;
  const { binding, queue } = p.has('b') ? bindingOf(p.get('b')) : { binding: 'U', queue: false };
  if (p.has('Q') && p.get('Q') !== undefined) throw new RegistrationError('"Q" is a flag without a value');
  const root = links.find((l) => l.attributes.rt?.replace(/^"|"$/g, '') === 'oma.lwm2m');
  const rootPath = root ? root.target.split('/').filter(Boolean) : [];
  const objectLinks = links.filter((l) => l !== root).map((l) => (rootPath.length ? { ...l, target: stripRoot(l.target, rootPath) } : l));
  const sms = p.get('sms');
  return {
    endpoint,
    lifetime,
    lwm2mVersion,
    binding,
    queueMode: queue || p.has('Q'),
    ...(sms ? { smsNumber: sms } : {}),
    objectLinks,
    rootPath,
    announcedFormats: parseAnnouncedFormats(root?.attributes.ct?.replace(/^"|"$/g, '')),
  };
}

/** What an Update (POST /rd/{id}) may change: lifetime, binding, queue mode, SMS number, objects. */
export interface UpdateParams {
  lifetime?: number;
  binding?: string;
  queueMode?: boolean;
  smsNumber?: string;
  objectLinks?: Link[];
}

export function parseUpdate(query: readonly string[], links: Link[] | undefined, rootPath: string[]): UpdateParams {
  const p = parseQuery(query);
  for (const name of p.keys()) {
    // `lwm2m` has no place in an Update, but some 1.0 clients (lwm2m-node-lib) repeat it: harmless, ignored.
    if (!['lt', 'b', 'sms', 'Q', 'lwm2m'].includes(name)) throw new RegistrationError(`parameter "${name}" is not allowed in an Update`);
  }
  const out: UpdateParams = {};
  if (p.has('lt')) out.lifetime = lifetimeOf(p.get('lt'));
  if (p.has('b')) {
    const { binding, queue } = bindingOf(p.get('b'));
    out.binding = binding;
    out.queueMode = queue || p.has('Q');
  } else if (p.has('Q')) out.queueMode = true;
  const sms = p.get('sms');
  if (sms) out.smsNumber = sms;
  if (links) out.objectLinks = links.filter((l) => l.attributes.rt?.replace(/^"|"$/g, '') !== 'oma.lwm2m').map((l) => (rootPath.length ? { ...l, target: stripRoot(l.target, rootPath) } : l));
  return out;
}

function stripRoot(target: string, root: string[]): string {
  const prefix = `/${root.join('/')}`;
  return target.startsWith(`${prefix}/`) ? target.slice(prefix.length) : target;
}
