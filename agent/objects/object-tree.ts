import {
  assertValueOfType,
  InvalidValueError,
  LwM2mPath,
  ResultCode,
  type BlockInfo,
  type Link,
  type LwM2mRecord,
  type LwM2mValue,
  type NotificationAttributes,
  type Operation,
  type OperationResult,
} from '../../protocol/model/index.js';
import { isExecutable, isReadable, isWritable, type ResourceDefinition } from '../../protocol/model/objects/index.js';
import { OperationError, type ObjectInstance, type ResourceContent } from './instance.js';
import type { CallerRole, LwM2mObject } from './lwm2m-object.js';

const fail = (code: ResultCode, message: string): never => {
  throw new OperationError(code, message);
};

/** Whether a Security instance is the bootstrap server account (which Bootstrap-Delete keeps). */
function isBootstrapAccount(instance: ObjectInstance): boolean {
  return instance.definition.id === 0 && instance.read(1) === true;
}

/**
 * The agent's object tree with LwM2M 1.1 operation semantics. Every transport binding hands
 * operations to `handle`, so a read means the same over MQTT, CoAP or LwM2M.
 */
export class ObjectTree {
  private readonly objects = new Map<number, LwM2mObject>();
  private readonly attributes = new Map<string, NotificationAttributes>();
  private readonly listeners = new Set<(path: LwM2mPath) => void>();

  add(object: LwM2mObject): LwM2mObject {
    if (this.objects.has(object.id)) throw new Error(`object ${object.id} is already in the tree`);
    this.objects.set(object.id, object);
    for (const instance of object.instances.values()) this.attach(instance);
    return object;
  }

  object(id: number): LwM2mObject | undefined {
    return this.objects.get(id);
  }

  /** Listens for value changes (server writes and device-side changes alike); returns an unsubscribe. */
  onChange(listener: (path: LwM2mPath) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Write-Attributes in force at a path: the object's, then the instance's, then the resource's own. */
  attributesAt(path: LwM2mPath): NotificationAttributes {
    const out: NotificationAttributes = {};
    const ids = path.segments();
    for (let n = 1; n <= ids.length; n++) Object.assign(out, this.attributes.get(LwM2mPath.of(...ids.slice(0, n)).toString()));
    return out;
  }

  /** The Register / Update object list: `</1>;ver=1.2,</1/0>,</3/0>,…`, never the Security object. */
  objectLinks(): Link[] {
    const links: Link[] = [];
    for (const object of this.sortedObjects('server')) {
      const ver = object.definition.objectVersion;
      const versioned = ver && ver !== '1.0';
      if (object.instances.size === 0 || versioned) links.push({ target: `/${object.id}`, attributes: versioned ? { ver } : {} });
      for (const instance of object.sortedInstances()) links.push({ target: instance.path.toString(), attributes: {} });
    }
    return links;
  }

  async handle(op: Operation, role: CallerRole = 'server'): Promise<OperationResult> {
    try {
      switch (op.kind) {
        case 'read':
        case 'observe':
          return { code: ResultCode.CONTENT, content: this.read(op.path, role) };
        case 'write':
          if (op.block || this.blockWritable(op.path, role)) return await this.writeBlock(op.path, op.content, op.block, role);
          return this.write(op.path, op.mode, op.content, role);
        case 'execute':
          return await this.execute(op.path, op.args, role);
        case 'discover':
          return { code: ResultCode.CONTENT, links: this.discover(op.path, role) };
        case 'create':
          return this.create(op.path, op.content, role);
        case 'delete':
          return this.delete(op.path, role);
        case 'write-attributes':
          return this.writeAttributes(op.path, op.attributes, role);
        case 'cancel-observe':
          return { code: ResultCode.METHOD_NOT_ALLOWED, message: 'observations are kept by the observation manager' };
      }
    } catch (err) {
      if (err instanceof OperationError) return { code: err.code, message: err.message };
      if (err instanceof InvalidValueError) return { code: ResultCode.BAD_REQUEST, message: err.message };
      throw err;
    }
  }

  /** Records of a path, for reads and notifications. */
  read(path: LwM2mPath, role: CallerRole = 'server'): LwM2mRecord[] {
    if (path.isRoot()) fail(ResultCode.METHOD_NOT_ALLOWED, 'a read needs at least an object id');
    const object = this.visibleObject(path, role);
    if (path.isObject()) return object.sortedInstances().flatMap((i) => this.instanceRecords(i));
    const instance = this.instanceAt(object, path);
    if (path.isObjectInstance()) return this.instanceRecords(instance);
    const resourceId = path.resourceId!;
    const def = this.resourceDefinition(instance, resourceId);
    if (!isReadable(def)) fail(ResultCode.METHOD_NOT_ALLOWED, `${path.parent()}/${resourceId} (${def.name.trim()}) is not readable`);
    const records = this.resourceRecords(instance, def);
    if (records === undefined) fail(ResultCode.NOT_FOUND, `${instance.path}/${resourceId} is not present`);
    if (path.isResource()) return records!;
    const match = records!.filter((r) => r.path.equals(path));
    if (match.length === 0) fail(ResultCode.NOT_FOUND, `${path} is not present`);
    return match;
  }

  private write(path: LwM2mPath, mode: 'replace' | 'update', content: LwM2mRecord[], role: CallerRole): OperationResult {
    if (path.isRoot() || (path.isObject() && role !== 'bootstrap')) fail(ResultCode.METHOD_NOT_ALLOWED, 'write needs an object instance or resource path');
    if (content.length === 0) fail(ResultCode.BAD_REQUEST, 'write without content');
    const object = role === 'bootstrap' ? this.objectAt(path) : this.visibleObject(path, role);

    // Validate everything before changing anything, so a write is all or nothing.
    const plan = new Map<number, Map<number, { def: ResourceDefinition; single?: LwM2mValue; multi?: Map<number, LwM2mValue> }>>();
    for (const record of content) {
      if (!record.path.startsWith(path)) fail(ResultCode.BAD_REQUEST, `record ${record.path} lies outside ${path}`);
      if (!record.path.isResource() && !record.path.isResourceInstance()) fail(ResultCode.BAD_REQUEST, `record ${record.path} is not a resource`);
      const instanceId = record.path.instanceId!;
      const existing = object.instances.get(instanceId);
      if (!existing && !(role === 'bootstrap' && object.canCreate(role))) fail(ResultCode.NOT_FOUND, `${object.id}/${instanceId} does not exist`);
      const def = object.definition.resources.find((r) => r.id === record.path.resourceId);
      if (!def) fail(ResultCode.NOT_FOUND, `object ${object.id} has no resource ${record.path.resourceId}`);
      const d = def!;
      if (role === 'server' ? !isWritable(d) : isExecutable(d)) fail(ResultCode.METHOD_NOT_ALLOWED, `/${object.id}/${instanceId}/${d.id} (${d.name.trim()}) is not writable`);
      if (existing && !existing.impl(d.id)?.write) {
        fail(existing.impl(d.id) ? ResultCode.METHOD_NOT_ALLOWED : ResultCode.NOT_FOUND, `/${object.id}/${instanceId}/${d.id} is not writable on this device`);
      }
      if (record.type !== d.type) fail(ResultCode.BAD_REQUEST, `${record.path} is ${d.type}, not ${record.type}`);
      assertValueOfType(d.type, record.value);
      let resources = plan.get(instanceId);
      if (!resources) plan.set(instanceId, (resources = new Map()));
      let entry = resources.get(d.id);
      if (!entry) resources.set(d.id, (entry = { def: d }));
      if (d.multiple) {
        if (!record.path.isResourceInstance()) fail(ResultCode.BAD_REQUEST, `${record.path} is a multiple resource: write its instances`);
        (entry.multi ??= new Map()).set(record.path.resourceInstanceId!, record.value);
      } else {
        if (record.path.isResourceInstance()) fail(ResultCode.BAD_REQUEST, `${record.path.parent()} is a single resource`);
        entry.single = record.value;
      }
    }

    for (const [instanceId, resources] of plan) {
      const instance = object.instances.get(instanceId) ?? this.attach(object.create(instanceId));
      for (const [resourceId, entry] of resources) {
        const impl = instance.impl(resourceId);
        if (!impl?.write) fail(ResultCode.METHOD_NOT_ALLOWED, `${instance.path}/${resourceId} is not writable on this device`);
        let value: ResourceContent;
        if (entry.multi) {
          const replaceAll = mode === 'replace' && !path.isResourceInstance();
          const current = replaceAll ? undefined : instance.read(resourceId);
          value = new Map([...(current instanceof Map ? current : []), ...entry.multi]);
        } else {
          value = entry.single!;
        }
        impl!.write!(value);
        this.changed(instance.path.child(resourceId));
      }
    }
    object.commit();
    return { code: ResultCode.CHANGED };
  }

  /** An opaque resource that takes its value in blocks (a pushed Package), also when sent whole. */
  private blockWritable(path: LwM2mPath, role: CallerRole): boolean {
    if (!path.isResource() || role !== 'server') return false;
    const instance = this.objects.get(path.objectId!)?.instances.get(path.instanceId!);
    return instance?.impl(path.resourceId!)?.writeBlock !== undefined;
  }

  private async writeBlock(path: LwM2mPath, content: LwM2mRecord[], block: BlockInfo | undefined, role: CallerRole): Promise<OperationResult> {
    if (!path.isResource()) fail(ResultCode.BAD_REQUEST, 'a block-wise write targets one resource');
    const object = this.visibleObject(path, role);
    const instance = this.instanceAt(object, path);
    const def = this.resourceDefinition(instance, path.resourceId!);
    const impl = instance.impl(def.id);
    if (!isWritable(def) || !impl?.writeBlock) fail(ResultCode.METHOD_NOT_ALLOWED, `${path} (${def.name.trim()}) does not take block-wise writes`);
    const record = content[0];
    if (content.length !== 1 || !record!.path.equals(path) || record!.type !== 'opaque') fail(ResultCode.BAD_REQUEST, `a block-wise write carries one opaque value for ${path}`);
    const chunk = record!.value as Uint8Array;
    // Sent whole: one last block at offset 0.
    const result = await impl!.writeBlock!(chunk, block ?? { num: 0, size: chunk.length, more: false });
    if (result.code === ResultCode.CHANGED) this.changed(path);
    return result;
  }

  private async execute(path: LwM2mPath, args: string | undefined, role: CallerRole): Promise<OperationResult> {
    if (!path.isResource()) fail(ResultCode.METHOD_NOT_ALLOWED, 'execute needs a resource path');
    const object = this.visibleObject(path, role);
    const instance = this.instanceAt(object, path);
    const def = this.resourceDefinition(instance, path.resourceId!);
    if (!isExecutable(def)) fail(ResultCode.METHOD_NOT_ALLOWED, `${path} (${def.name.trim()}) is not executable`);
    const impl = instance.impl(def.id);
    if (!impl?.execute) fail(ResultCode.NOT_FOUND, `${path} is not supported on this device`);
    await impl!.execute!(args);
    return { code: ResultCode.CHANGED };
  }

  private discover(path: LwM2mPath, role: CallerRole): Link[] {
    if (path.isRoot()) {
      return this.sortedObjects(role).flatMap((o) => [this.objectLink(o), ...o.sortedInstances().map((i) => this.link(i.path))]);
    }
    const object = this.visibleObject(path, role);
    if (path.isResourceInstance()) fail(ResultCode.METHOD_NOT_ALLOWED, 'discover takes an object, instance or resource path');
    if (path.isObject()) {
      return [this.objectLink(object), ...object.sortedInstances().flatMap((i) => [this.link(i.path), ...this.resourceLinks(i)])];
    }
    const instance = this.instanceAt(object, path);
    if (path.isObjectInstance()) return [this.link(instance.path), ...this.resourceLinks(instance)];
    const def = this.resourceDefinition(instance, path.resourceId!);
    const links = this.resourceLinks(instance).filter((l) => l.target === path.toString());
    if (links.length === 0) fail(ResultCode.NOT_FOUND, `${path} (${def.name.trim()}) is not present`);
    return links;
  }

  private create(path: LwM2mPath, content: LwM2mRecord[], role: CallerRole): OperationResult {
    if (!path.isObject()) fail(ResultCode.METHOD_NOT_ALLOWED, 'create takes an object path');
    const object = this.visibleObject(path, role);
    if (!object.canCreate(role) || !object.definition.multiple) fail(ResultCode.METHOD_NOT_ALLOWED, `instances of object ${object.id} cannot be created`);
    const ids = new Set(content.map((r) => r.path.instanceId));
    if (ids.size > 1) fail(ResultCode.BAD_REQUEST, 'create content names more than one instance');
    const id = content[0]?.path.instanceId ?? object.nextInstanceId();
    if (object.instances.has(id)) fail(ResultCode.BAD_REQUEST, `/${object.id}/${id} already exists`);
    const instance = this.attach(object.create(id));
    if (content.length > 0) {
      const written = this.write(instance.path, 'replace', content, role);
      if (written.code !== ResultCode.CHANGED) {
        object.instances.delete(id);
        return written;
      }
    }
    object.commit();
    return { code: ResultCode.CREATED, location: instance.path.toString() };
  }

  private delete(path: LwM2mPath, role: CallerRole): OperationResult {
    if (role === 'bootstrap' && (path.isRoot() || path.isObject())) {
      const objects = path.isRoot() ? [...this.objects.values()] : [this.objectAt(path)];
      for (const object of objects) {
        if (!object.options.createInstance) continue; // Device, Connectivity…: not deletable
        for (const instance of [...object.instances.values()]) if (!isBootstrapAccount(instance)) object.instances.delete(instance.id);
        object.commit();
      }
      return { code: ResultCode.DELETED };
    }
    if (!path.isObjectInstance()) fail(ResultCode.METHOD_NOT_ALLOWED, 'delete takes an object instance path');
    const object = role === 'bootstrap' ? this.objectAt(path) : this.visibleObject(path, role);
    const instance = this.instanceAt(object, path);
    if (!object.canCreate(role) || isBootstrapAccount(instance)) fail(ResultCode.METHOD_NOT_ALLOWED, `${path} cannot be deleted`);
    object.instances.delete(instance.id);
    object.commit();
    return { code: ResultCode.DELETED };
  }

  private writeAttributes(path: LwM2mPath, attributes: NotificationAttributes, role: CallerRole): OperationResult {
    if (path.isRoot()) fail(ResultCode.METHOD_NOT_ALLOWED, 'write-attributes needs an object, instance or resource path');
    const object = this.visibleObject(path, role);
    if (!path.isObject()) this.instanceAt(object, path);
    const numeric = ['gt', 'lt', 'st'].some((k) => attributes[k as keyof NotificationAttributes] !== undefined);
    if (numeric) {
      if (!path.isResource()) fail(ResultCode.BAD_REQUEST, 'gt, lt and st apply to a resource');
      const def = object.definition.resources.find((r) => r.id === path.resourceId);
      if (!def || !['integer', 'unsigned', 'float'].includes(def.type)) fail(ResultCode.BAD_REQUEST, 'gt, lt and st apply to numeric resources');
    }
    const merged = { ...this.attributes.get(path.toString()), ...attributes };
    if (merged.pmin !== undefined && merged.pmax !== undefined && merged.pmax < merged.pmin) fail(ResultCode.BAD_REQUEST, 'pmax must not be below pmin');
    if (merged.lt !== undefined && merged.gt !== undefined && merged.lt >= merged.gt && merged.st !== undefined && merged.lt + 2 * merged.st >= merged.gt) {
      fail(ResultCode.BAD_REQUEST, 'lt + 2*st must be below gt');
    }
    this.attributes.set(path.toString(), merged);
    return { code: ResultCode.CHANGED };
  }

  // ---- helpers ----------------------------------------------------------------------------

  private attach(instance: ObjectInstance): ObjectInstance {
    instance.onChange = (p) => this.changed(p);
    return instance;
  }

  private changed(path: LwM2mPath): void {
    for (const listener of this.listeners) listener(path);
  }

  private sortedObjects(role: CallerRole): LwM2mObject[] {
    return [...this.objects.values()].filter((o) => role === 'bootstrap' || !o.options.hiddenFromServer).sort((a, b) => a.id - b.id);
  }

  private objectAt(path: LwM2mPath): LwM2mObject {
    const object = this.objects.get(path.objectId!);
    if (!object) fail(ResultCode.NOT_FOUND, `object ${path.objectId} is not supported`);
    return object!;
  }

  private visibleObject(path: LwM2mPath, role: CallerRole): LwM2mObject {
    const object = this.objectAt(path);
    if (role === 'server' && object.options.hiddenFromServer) fail(ResultCode.UNAUTHORIZED, `object ${object.id} is not accessible to a DM server`);
    return object;
  }

  private instanceAt(object: LwM2mObject, path: LwM2mPath): ObjectInstance {
    const instance = object.instances.get(path.instanceId!);
    if (!instance) fail(ResultCode.NOT_FOUND, `/${object.id}/${path.instanceId} does not exist`);
    return instance!;
  }

  private resourceDefinition(instance: ObjectInstance, resourceId: number): ResourceDefinition {
    const def = instance.definition.resources.find((r) => r.id === resourceId);
    if (!def) fail(ResultCode.NOT_FOUND, `object ${instance.definition.id} has no resource ${resourceId}`);
    return def!;
  }

  private instanceRecords(instance: ObjectInstance): LwM2mRecord[] {
    const out: LwM2mRecord[] = [];
    for (const id of instance.resourceIds()) {
      const def = instance.resourceDefinition(id);
      if (!def || !isReadable(def) || def.type === 'none') continue;
      out.push(...(this.resourceRecords(instance, def) ?? []));
    }
    return out;
  }

  private resourceRecords(instance: ObjectInstance, def: ResourceDefinition): LwM2mRecord[] | undefined {
    const value = instance.read(def.id);
    if (value === undefined) return undefined;
    const base = instance.path.child(def.id);
    if (value instanceof Map) {
      return [...value.entries()].sort(([a], [b]) => a - b).map(([i, v]) => ({ path: base.child(i), type: def.type, value: v }));
    }
    return [{ path: base, type: def.type, value: value as LwM2mValue }];
  }

  private objectLink(object: LwM2mObject): Link {
    const ver = object.definition.objectVersion;
    return { target: `/${object.id}`, attributes: { ...(ver && ver !== '1.0' ? { ver } : {}), ...this.attributeStrings(LwM2mPath.of(object.id)) } };
  }

  private link(path: LwM2mPath): Link {
    return { target: path.toString(), attributes: this.attributeStrings(path) };
  }

  private resourceLinks(instance: ObjectInstance): Link[] {
    return instance.resourceIds().map((id) => {
      const def = instance.resourceDefinition(id)!;
      const path = instance.path.child(id);
      const value = def.multiple ? instance.read(id) : undefined;
      return { target: path.toString(), attributes: { ...(value instanceof Map ? { dim: String(value.size) } : {}), ...this.attributeStrings(path) } };
    });
  }

  private attributeStrings(path: LwM2mPath): Record<string, string> {
    const a = this.attributes.get(path.toString());
    return a ? Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)])) : {};
  }
}
