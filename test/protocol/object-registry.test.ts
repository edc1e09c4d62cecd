/**
 * Registry conformance: the runtime object model must match the OMA registry XML files it was
 * generated from. The XML is parsed here independently of the generator, so a generator bug
 * cannot hide itself.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { LwM2mPath } from '../../protocol/model/path.js';
import {
  ConnectivityMonitoringResource,
  ConnectivityStatisticsResource,
  defaultObjectRegistry,
  EDGEDM_OBJECT_DEFINITIONS,
  DeviceResource,
  DuplicateObjectDefinitionError,
  EventLogResource,
  FirmwareUpdateResource,
  isExecutable,
  isReadable,
  isWritable,
  LEGACY_OBJECT_DEFINITIONS,
  OBJECT_DEFINITIONS,
  ObjectId,
  ObjectRegistry,
  SecurityResource,
  ServerResource,
  SoftwareManagementResource,
  type ObjectDefinition,
} from '../../protocol/model/objects/index.js';
import { generateDefinitionsSource, parseObjectXml, RegistryFormatError } from '../../scripts/generate-objects.js';

const objectsDir = fileURLToPath(new URL('../../protocol/model/objects/', import.meta.url));
const registryDir = join(objectsDir, 'registry');
const xmlFiles = readdirSync(registryDir).filter((f) => f.endsWith('.xml')).sort();

interface XmlItem {
  ID: string;
  Name: string;
  Operations: string;
  MultipleInstances: string;
  Mandatory: string;
  Type: string;
}
interface XmlObject {
  Name: string;
  ObjectID: string;
  ObjectURN: string;
  ObjectVersion: string;
  LWM2MVersion: string;
  MultipleInstances: string;
  Mandatory: string;
  Resources: { Item: XmlItem[] };
}

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'Item',
});

function readXmlObject(file: string): XmlObject {
  return (xmlParser.parse(readFileSync(join(registryDir, file), 'utf8')) as { LWM2M: { Object: XmlObject } }).LWM2M.Object;
}

const expectedType: Record<string, string> = {
  String: 'string',
  Integer: 'integer',
  'Unsigned Integer': 'unsigned',
  Float: 'float',
  Boolean: 'boolean',
  Opaque: 'opaque',
  Time: 'time',
  Objlnk: 'objlnk',
  Corelnk: 'corelnk',
  '': 'none',
};

const stemOf = (file: string) => file.slice(0, -'.xml'.length);
const isLegacyFile = (file: string) => stemOf(file).includes('-');

function definitionFor(file: string): ObjectDefinition | undefined {
  const stem = stemOf(file);
  return isLegacyFile(file) ? LEGACY_OBJECT_DEFINITIONS[stem] : OBJECT_DEFINITIONS.find((d) => d.id === Number(stem));
}

describe('registry conformance', () => {
  it('has the expected registry files', () => {
    assert.deepEqual(xmlFiles, ['0.xml', '1.xml', '2.xml', '20.xml', '25.xml', '3.xml', '4.xml', '5-1_0.xml', '5-1_1.xml', '5.xml', '7.xml', '9.xml']);
  });

  it('defines exactly the objects of the current files and the legacy versions of the others', () => {
    const currentIds = xmlFiles.filter((f) => !isLegacyFile(f)).map((f) => Number(stemOf(f))).sort((a, b) => a - b);
    assert.deepEqual(OBJECT_DEFINITIONS.map((d) => d.id), currentIds);
    // …plus edgedm's own objects, from the private range (32769–42768) the OMA registry leaves to vendors.
    assert.deepEqual(defaultObjectRegistry.all().map((d) => d.id), [...currentIds, ...EDGEDM_OBJECT_DEFINITIONS.map((d) => d.id)]);
    for (const d of EDGEDM_OBJECT_DEFINITIONS) assert.ok(d.id >= 32769 && d.id <= 42768, `${d.id} is in the private range`);
    assert.deepEqual(Object.keys(LEGACY_OBJECT_DEFINITIONS).sort(), xmlFiles.filter(isLegacyFile).map(stemOf));
  });

  for (const file of xmlFiles) {
    describe(file, () => {
      const xml = readXmlObject(file);

      it('matches the object header', () => {
        const def = definitionFor(file);
        assert.ok(def, `no definition for ${file}`);
        assert.equal(def.id, Number(xml.ObjectID));
        assert.equal(def.name, xml.Name);
        assert.equal(def.urn, xml.ObjectURN);
        assert.equal(def.objectVersion, xml.ObjectVersion);
        assert.equal(def.lwm2mVersion, xml.LWM2MVersion);
        assert.equal(def.multiple, xml.MultipleInstances === 'Multiple');
        assert.equal(def.mandatory, xml.Mandatory === 'Mandatory');
        if (!isLegacyFile(file)) assert.equal(defaultObjectRegistry.get(def.id), def);
      });

      it('has the same set of resources', () => {
        const def = definitionFor(file)!;
        const xmlIds = xml.Resources.Item.map((i) => Number(i.ID)).sort((a, b) => a - b);
        assert.deepEqual(def.resources.map((r) => r.id), xmlIds);
      });

      it('matches every resource', () => {
        const def = definitionFor(file)!;
        for (const item of xml.Resources.Item) {
          const r = def.resources.find((res) => res.id === Number(item.ID));
          assert.ok(r, `resource ${item.ID} missing`);
          const where = `${file} resource ${item.ID}`;
          assert.equal(r.name, item.Name, where);
          assert.equal(r.operations, item.Operations, where);
          assert.equal(r.type, item.Operations === 'E' ? 'none' : expectedType[item.Type], where);
          assert.equal(r.multiple, item.MultipleInstances === 'Multiple', where);
          assert.equal(r.mandatory, item.Mandatory === 'Mandatory', where);
          if (!isLegacyFile(file)) assert.equal(defaultObjectRegistry.resource(def.id, r.id), r, where);
        }
      });
    });
  }

  it('keeps the generated file up to date with the registry files', () => {
    const onDisk = readFileSync(join(objectsDir, 'definitions.generated.ts'), 'utf8');
    assert.equal(generateDefinitionsSource(registryDir), onDisk, 'definitions.generated.ts is stale: run `npm run generate:objects`');
  });
});

describe('ObjectRegistry', () => {
  const registry = defaultObjectRegistry;

  it('looks up objects and resources by id', () => {
    assert.equal(registry.get(ObjectId.DEVICE)?.name, 'Device');
    assert.equal(registry.get(ObjectId.FIRMWARE_UPDATE)?.objectVersion, '1.2');
    assert.equal(registry.get(6), undefined);
    assert.equal(registry.resource(ObjectId.DEVICE, DeviceResource.MANUFACTURER)?.type, 'string');
    assert.equal(registry.resource(ObjectId.DEVICE, 999), undefined);
    assert.equal(registry.resource(999, 0), undefined);
  });

  it('resolves resource and resource-instance paths', () => {
    assert.equal(registry.resourceAt(LwM2mPath.parse('/3/0/4'))?.name, 'Reboot');
    assert.equal(registry.resourceAt(LwM2mPath.parse('/3/0/6/1'))?.name, 'Available Power Sources');
    assert.equal(registry.resourceAt(LwM2mPath.parse('/20/2/4014'))?.name, 'LogData');
  });

  it('answers undefined for paths that address no resource definition', () => {
    assert.equal(registry.resourceAt(LwM2mPath.parse('/')), undefined);
    assert.equal(registry.resourceAt(LwM2mPath.parse('/3')), undefined);
    assert.equal(registry.resourceAt(LwM2mPath.parse('/3/0')), undefined);
    assert.equal(registry.resourceAt(LwM2mPath.parse('/3/0/0/0')), undefined, 'Manufacturer is single: no instances');
    assert.equal(registry.resourceAt(LwM2mPath.parse('/3/0/99')), undefined);
    assert.equal(registry.resourceAt(LwM2mPath.parse('/6/0/0')), undefined);
  });

  it('lists all definitions by ascending id, whatever the input order', () => {
    const reversed = new ObjectRegistry([...OBJECT_DEFINITIONS].reverse());
    assert.deepEqual(reversed.all().map((d) => d.id), [0, 1, 2, 3, 4, 5, 7, 9, 20, 25]);
  });

  it('refuses two definitions of one object', () => {
    const legacy = LEGACY_OBJECT_DEFINITIONS['5-1_0']!;
    assert.throws(() => new ObjectRegistry([...OBJECT_DEFINITIONS, legacy]), (e: unknown) => {
      assert.ok(e instanceof DuplicateObjectDefinitionError);
      assert.equal(e.objectId, 5);
      assert.match(e.message, /object 5 is defined more than once/);
      return true;
    });
  });
});

describe('resource operation helpers', () => {
  const at = (objectId: number, resourceId: number) => defaultObjectRegistry.resource(objectId, resourceId)!;

  it('classifies R, RW, W, E and bootstrap-only resources', () => {
    const manufacturer = at(ObjectId.DEVICE, DeviceResource.MANUFACTURER); // R
    const currentTime = at(ObjectId.DEVICE, DeviceResource.CURRENT_TIME); // RW
    const fwPackage = at(ObjectId.FIRMWARE_UPDATE, FirmwareUpdateResource.PACKAGE); // W
    const reboot = at(ObjectId.DEVICE, DeviceResource.REBOOT); // E
    const serverUri = at(ObjectId.SECURITY, SecurityResource.LWM2M_SERVER_URI); // '' (bootstrap only)
    assert.deepEqual([manufacturer, currentTime, fwPackage, reboot, serverUri].map((r) => r.operations), ['R', 'RW', 'W', 'E', '']);
    assert.deepEqual([manufacturer, currentTime, fwPackage, reboot, serverUri].map(isReadable), [true, true, false, false, false]);
    assert.deepEqual([manufacturer, currentTime, fwPackage, reboot, serverUri].map(isWritable), [false, true, true, false, false]);
    assert.deepEqual([manufacturer, currentTime, fwPackage, reboot, serverUri].map(isExecutable), [false, false, false, true, false]);
    assert.equal(reboot.type, 'none');
  });

  it('keeps optional range, units and trimmed descriptions', () => {
    const battery = at(ObjectId.DEVICE, DeviceResource.BATTERY_LEVEL);
    assert.equal(battery.rangeEnumeration, '0..100');
    assert.equal(battery.units, '/100');
    assert.equal(at(ObjectId.DEVICE, DeviceResource.MANUFACTURER).units, undefined);
    for (const def of OBJECT_DEFINITIONS) {
      assert.notEqual(def.description, '', `object ${def.id} has a description`);
      for (const r of def.resources) assert.equal(r.description, r.description.trim());
    }
  });
});

describe('id constants', () => {
  /** `SMS_BINDING_SECRET_KEYS` names "SMS Binding Secret Key(s)": compare letters and digits only. */
  const squash = (s: string) => s.replace(/[^A-Za-z0-9]/g, '').toUpperCase();

  const tables: [number, Record<string, number>][] = [
    [ObjectId.SECURITY, SecurityResource],
    [ObjectId.SERVER, ServerResource],
    [ObjectId.DEVICE, DeviceResource],
    [ObjectId.CONNECTIVITY_MONITORING, ConnectivityMonitoringResource],
    [ObjectId.FIRMWARE_UPDATE, FirmwareUpdateResource],
    [ObjectId.CONNECTIVITY_STATISTICS, ConnectivityStatisticsResource],
    [ObjectId.SOFTWARE_MANAGEMENT, SoftwareManagementResource],
    [ObjectId.EVENT_LOG, EventLogResource],
  ];

  it('names every object id after its registry object', () => {
    for (const [key, id] of Object.entries(ObjectId)) {
      const def = defaultObjectRegistry.get(id);
      assert.ok(def, `${key} = ${id} is not defined`);
      assert.ok(squash(def.name).endsWith(squash(key)), `${key} does not name "${def.name}"`);
    }
  });

  for (const [objectId, table] of tables) {
    it(`names every resource of object ${objectId} after the registry`, () => {
      const def = defaultObjectRegistry.get(objectId)!;
      for (const [key, resourceId] of Object.entries(table)) {
        const r = defaultObjectRegistry.resource(objectId, resourceId);
        assert.ok(r, `${key} = ${resourceId} is not a resource of object ${objectId}`);
        assert.equal(squash(key), squash(r.name), `${key} does not name "${r.name}"`);
      }
      assert.deepEqual(Object.values(table).sort((a, b) => a - b), def.resources.map((r) => r.id), 'every resource has a constant');
    });
  }

  it('keeps the ids used everywhere', () => {
    assert.deepEqual([DeviceResource.MANUFACTURER, DeviceResource.REBOOT, DeviceResource.FACTORY_RESET, DeviceResource.ERROR_CODE], [0, 4, 5, 11]);
  });
});

describe('parseObjectXml', () => {
  const wrap = (item: string) =>
    `<LWM2M><Object ObjectType="MODefinition"><Name>Test</Name><Description1>d</Description1><ObjectID>1000</ObjectID>` +
    `<ObjectURN>urn:oma:lwm2m:x:1000</ObjectURN><LWM2MVersion>1.1</LWM2MVersion><ObjectVersion>1.0</ObjectVersion>` +
    `<MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Resources>${item}</Resources></Object></LWM2M>`;
  const item = (fields: Partial<Record<'ID' | 'Operations' | 'Type' | 'MultipleInstances', string>>) =>
    `<Item ID="${fields.ID ?? '0'}"><Name>R</Name><Operations>${fields.Operations ?? 'R'}</Operations>` +
    `<MultipleInstances>${fields.MultipleInstances ?? 'Single'}</MultipleInstances><Mandatory>Optional</Mandatory>` +
    `<Type>${fields.Type ?? 'Float'}</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description>x</Description></Item>`;

  it('parses a minimal object', () => {
    const def = parseObjectXml(wrap(item({})), 'test.xml');
    assert.equal(def.id, 1000);
    assert.deepEqual(def.resources, [{ id: 0, name: 'R', operations: 'R', multiple: false, mandatory: false, type: 'float', description: 'x' }]);
  });

  const rejects = (xml: string, message: RegExp) =>
    assert.throws(() => parseObjectXml(xml, 'bad.xml'), (e: unknown) => e instanceof RegistryFormatError && e.file === 'bad.xml' && message.test(e.message));

  it('rejects malformed XML', () => rejects('<LWM2M><Object>', /malformed XML/));
  it('rejects a file without an object', () => rejects('<LWM2M></LWM2M>', /no <LWM2M><Object> element/));
  it('rejects an unknown type', () => rejects(wrap(item({ Type: 'Decimal' })), /resource 0: unknown type "Decimal"/));
  it('rejects unknown operations', () => rejects(wrap(item({ Operations: 'RX' })), /unknown operations "RX"/));
  it('rejects an unknown multiplicity', () => rejects(wrap(item({ MultipleInstances: 'Many' })), /<MultipleInstances> is "Many"/));
  it('rejects a bad id', () => rejects(wrap(item({ ID: '65535' })), /id "65535" is not an integer in 0\.\.65534/));
  it('rejects a resource defined twice', () => rejects(wrap(item({}) + item({})), /resource 0 is defined twice/));
});
