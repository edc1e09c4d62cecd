import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ContentDecodeError, ContentEncodeError, decodeLinks, encodeLinks, formatLinks, parseLinks, parseAnnouncedFormats } from '../../protocol/lwm2m/index.js';
import { text, utf8 } from './lwm2m-fixtures.js';

describe('CoRE link format', () => {
  test('an LwM2M 1.1 Register payload, both ways byte for byte', () => {
    const payload = '</>;rt="oma.lwm2m";ct=110,</1>;ver=1.1,</1/0>,</3/0>,</4/0>,</5/0>';
    const links = decodeLinks(utf8(payload));
    assert.deepEqual(links, [
      { target: '/', attributes: { rt: 'oma.lwm2m', ct: '110' } },
      { target: '/1', attributes: { ver: '1.1' } },
      { target: '/1/0', attributes: {} },
      { target: '/3/0', attributes: {} },
      { target: '/4/0', attributes: {} },
      { target: '/5/0', attributes: {} },
    ]);
    assert.equal(text(encodeLinks(links)), payload);
  });

  test('the Register payload of Leshan ENCODED_OBJ3442: a quoted ct list', () => {
    const payload = '</>;rt="oma.lwm2m";ct="60 110 112 1542 1543 11542 11543",</1>;ver=1.1,</1/0>,</2>,</3>;ver=1.1,</3/0>,</3442/0>';
    const links = parseLinks(payload);
    assert.equal(links.length, 7);
    assert.deepEqual(parseAnnouncedFormats(links[0]!.attributes.ct), [60, 110, 112, 1542, 1543, 11542, 11543]);
    assert.equal(formatLinks(links), payload);
  });

  test('a Discover response: dim, notification attributes, a flag attribute', () => {
    const payload = '</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/6>;dim=2,</3/0/7>;dim=2;gt=50;lt=42.2;st=0.5,</3/0/13>;con';
    const links = parseLinks(payload);
    assert.deepEqual(links[3], { target: '/3/0/7', attributes: { dim: '2', gt: '50', lt: '42.2', st: '0.5' } });
    assert.deepEqual(links[4], { target: '/3/0/13', attributes: { con: undefined } });
    assert.equal(formatLinks(links), payload);
  });

  // eclipse-leshan/leshan leshan-lwm2m-core/src/test/java/org/eclipse/leshan/core/link/DefaultLinkParserTest.java
  test('Leshan DefaultLinkParserTest vectors', () => {
    assert.equal(parseLinks('</uri//>')[0]!.target, '/uri//');
    assert.equal(parseLinks('</%20>')[0]!.target, '/%20');
    assert.equal(parseLinks("</-._~a-zA-Z0-9:@!$&'()*+,;=>")[0]!.target, "/-._~a-zA-Z0-9:@!$&'()*+,;=");
    assert.deepEqual(parseLinks('</foo>;param=<,</bar>;param2=>'), [
      { target: '/foo', attributes: { param: '<' } },
      { target: '/bar', attributes: { param2: '>' } },
    ]);
    assert.deepEqual(parseLinks('</foo>;param=/')[0]!.attributes, { param: '/' });
    assert.deepEqual(parseLinks('</foo>;param=","' + ',</bar>')[0]!.attributes, { param: ',' });
    assert.deepEqual(parseLinks('</foo>;param=" \\" \\" "')[0]!.attributes, { param: ' " " ' });
    assert.deepEqual(parseLinks('</foo>;param="="')[0]!.attributes, { param: '=' });
    const ptoken = "</foo>;param=!#$%&'()*+-.:<=>?@[]^_`{|}~a1z9;param2=\"foo\";param3,</bar>";
    assert.deepEqual(parseLinks(ptoken)[0]!.attributes, { param: "!#$%&'()*+-.:<=>?@[]^_`{|}~a1z9", param2: 'foo', param3: undefined });
    const some = parseLinks('</>;rt="oma.lwm2m";ct=100;qs="quoted_string";us=unquoted_string,</1/101>,</1/102>,</2/0>,</2/1>;empty');
    assert.equal(some.length, 5);
    assert.deepEqual(some[0]!.attributes, { rt: 'oma.lwm2m', ct: '100', qs: 'quoted_string', us: 'unquoted_string' });
    assert.deepEqual(some[4]!.attributes, { empty: undefined });
    assert.equal(parseLinks('</1>;ver="2.2"')[0]!.attributes.ver, '2.2');
  });

  test('values are quoted when they must be', () => {
    assert.equal(formatLinks([{ target: '/x', attributes: { title: 'a', v: 'a b', q: 'say "hi"\\', e: '' } }]), '</x>;title="a";v="a b";q="say \\"hi\\"\\\\";e=""');
    const back = parseLinks('</x>;title="a";v="a b";q="say \\"hi\\"\\\\";e=""');
    assert.deepEqual(back[0]!.attributes, { title: 'a', v: 'a b', q: 'say "hi"\\', e: '' });
  });

  test('whitespace between links is tolerated; an empty payload is no links', () => {
    assert.equal(parseLinks('</1/0>,\n </3/0>').length, 2);
    assert.deepEqual(decodeLinks(new Uint8Array(0)), []);
  });

  const bad: [string, RegExp][] = [
    ['/1/0', /expected "<" to start a link/],
    ['</1/0', /unterminated "<" target/],
    ['<>', /"" is not a URI reference/],
    ['</a b>', /not a URI reference/],
    ['</1/0>,', /expected "<"/],
    ['</1/0>;', /expected an attribute name/],
    ['</1/0>;ver=', /has no value after "="/],
    ['</1/0>;ver="1.1', /unterminated quoted string/],
    ['</1/0>;ver=1.1;ver=1.0', /attribute "ver" appears twice/],
    ['</1/0> </3/0>', /expected "," between links/],
    ['</1/0>;a b', /expected "," between links/],
    ['</1/0>x', /expected "," between links/],
  ];
  for (const [payload, message] of bad) {
    test(`malformed: ${payload}`, () => {
      assert.throws(() => parseLinks(payload), (err: unknown) => err instanceof ContentDecodeError && err.format === 'link-format' && message.test(err.message));
    });
  }

  test('limits and encoding errors', () => {
    assert.throws(() => decodeLinks(Uint8Array.of(0x3c, 0xff, 0x3e)), /not valid UTF-8/);
    assert.throws(() => decodeLinks(utf8('</1/0>'.repeat(1)), { maxBytes: 3 }), /6 bytes exceed the 3-byte limit/);
    assert.throws(() => parseLinks(Array.from({ length: 11 }, (_, i) => `</${i}>`).join(','), { maxLinks: 10 }), /more than 10 links/);
    assert.throws(() => parseLinks(`</1>${';a'.repeat(0)}${Array.from({ length: 5 }, (_, i) => `;a${i}`).join('')}`, { maxAttributes: 4 }), /more than 4 attributes/);
    assert.throws(() => formatLinks([{ target: '/a>b', attributes: {} }]), ContentEncodeError);
    assert.throws(() => formatLinks([{ target: '/a', attributes: { 'b c': '1' } }]), ContentEncodeError);
  });
});
