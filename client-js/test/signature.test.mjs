// The request signature written in TypeScript, against the reference vectors collected in
// shared/spec/pusher-protocol.md (§8: the REST docs, the Python, Node and pusher-signature
// libraries' own tests).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hmacSha256Hex, md5Hex, signedParams, stringToSign } from '../dist/api.js';

test('MD5 matches the libraries’ body_md5 values', () => {
  assert.equal(md5Hex(''), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(md5Hex('example body'), '165d5e6d7ca8f73b3853ce45addf42fc');
  assert.equal(md5Hex('{"foo": "bar"}'), '94232c5b8fc9272f6f73a1e36eb68fcf');
  assert.equal(md5Hex('{}'), '99914b932bd37a50b983c5e7c90ae93b');
  assert.equal(
    md5Hex('{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}'),
    'ec365a775a4cd0599faeb73354201b6f',
  );
  assert.equal(
    md5Hex('{"name":"my_event","data":"{\\"some\\":\\"data \\"}","channels":["one"]}'),
    'e95168baf497b2e54b2c6cadd41a6a3f',
  );
  // Multi-block input and non-ASCII text (UTF-8 encoded before hashing).
  assert.equal(md5Hex('a'.repeat(1000)), 'cabe45dcc9ae5b66ba86600cca6b8ba8');
  assert.equal(md5Hex('ą§¶™€łü€ß£'), md5Hex(new TextEncoder().encode('ą§¶™€łü€ß£')));
});

test('the REST docs’ trigger vector', async () => {
  const params = await signedParams({
    key: '278d425bdf160c739803',
    secret: '7ad3773142a6692b25b8',
    method: 'POST',
    path: '/apps/3/events',
    body: '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}',
    timestamp: 1353088179,
  });
  assert.equal(params.body_md5, 'ec365a775a4cd0599faeb73354201b6f');
  assert.equal(params.auth_version, '1.0');
  assert.equal(params.auth_signature, 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c');
});

test('the Python library’s GET and POST vectors (body_md5 given explicitly on GET)', async () => {
  const get = stringToSign('GET', '/some/obscure/api', {
    foo: 'bar',
    auth_key: 'key',
    auth_timestamp: '1000',
    auth_version: '1.0',
    body_md5: 'd41d8cd98f00b204e9800998ecf8427e',
  });
  assert.equal(
    get,
    'GET\n/some/obscure/api\nauth_key=key&auth_timestamp=1000&auth_version=1.0&body_md5=d41d8cd98f00b204e9800998ecf8427e&foo=bar',
  );
  assert.equal(await hmacSha256Hex('secret', get), '5c49f04a95eedc9028b1e0e8de7c2c7ad63504a0e3b5c145d2accaef6c14dbac');
  const post = await signedParams({
    key: 'key',
    secret: 'secret',
    method: 'post',
    path: '/some/obscure/api',
    body: '{"foo": "bar"}',
    timestamp: 1000,
  });
  assert.equal(post.auth_signature, 'e05fa4cafee86311746ee3981d5581a5e4e87c27bbab0aeb1059e2df5c90258b');
});

test('the Node library’s vectors: body_md5, extra parameters sorted', async () => {
  const withBody = await signedParams({
    key: 'f00d',
    secret: 'tofu',
    method: 'GET',
    path: '/event',
    body: 'example body',
    timestamp: 1234567890,
  });
  assert.equal(withBody.auth_signature, 'a650196dc427ebe837226f8565ca9232198c6d1b9455eaa72374a9dc0b620e7b');
  const withParams = await signedParams({
    key: 'f00d',
    secret: 'tofu',
    method: 'GET',
    path: '/event',
    params: { foo: 'bar', baz: '123454321' },
    timestamp: 1234567890,
  });
  assert.equal(withParams.auth_signature, 'd8bdbd31911fb7400a14fbd36fd7de053494725b64400ae5856deafe304b34a9');
  assert.equal(withParams.body_md5, undefined);
});

test('pusher-signature’s vectors: keys lower-cased, the signature itself never signed', async () => {
  const params = { auth_key: 'key', auth_timestamp: '1234', auth_version: '1.0', Go: 'here', query: 'params' };
  const s = stringToSign('POST', '/some/path', { ...params, auth_signature: 'ignored' });
  assert.equal(s, 'POST\n/some/path\nauth_key=key&auth_timestamp=1234&auth_version=1.0&go=here&query=params');
  assert.equal(await hmacSha256Hex('secret', s), '3b237953a5ba6619875cbb2a2d43e8da9ef5824e8a2c689f6284ac85bc1ea0db');
  const { Go: _, ...withoutGo } = params;
  assert.equal(
    await hmacSha256Hex('secret', stringToSign('POST', '/some/path', withoutGo)),
    'da078fcedd72941b6c873caa40d0d6b2000ebfc700cee802b128dd20f72e74e9',
  );
});

test('the derived channels-query vector (values unescaped, comma kept)', async () => {
  const params = await signedParams({
    key: '278d425bdf160c739803',
    secret: '7ad3773142a6692b25b8',
    method: 'GET',
    path: '/apps/3/channels',
    params: { filter_by_prefix: 'presence-', info: 'user_count' },
    timestamp: 1353088179,
  });
  assert.equal(params.auth_signature, '16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291');
});
