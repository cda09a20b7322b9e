#!/usr/bin/env node
// Verify a sim06 gateway response: its detached JWS (RFC 7797) and its request binding.
// Node.js 18+ with no dependencies (node:crypto). Exit 0 = valid, 1 = invalid.
//
//   node verify_response.js --jwks jwks.json --body body.bin --signature "$SIG" \
//     [--request-hash "$RQH" --method GET --path /v1/registry/citizens/001090104217 \
//      --request-id "$MAYEUCAU" --request-body req.bin]
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

function verify(jwks, signature, body) {
  const [protectedB64, payload, sig] = signature.split('.');
  if (payload !== '') throw new Error('expected a detached payload (protected..signature)');
  const header = JSON.parse(Buffer.from(protectedB64, 'base64url').toString('utf8'));
  // RFC 7797: b64=false must be understood (crit); the signing input is the raw body bytes.
  if (header.alg !== 'ES256' || header.b64 !== false || !(header.crit || []).includes('b64')) {
    throw new Error('unexpected protected header ' + JSON.stringify(header));
  }
  const jwk = jwks.keys.find((k) => k.kid === header.kid && k.kty === 'EC' && k.crv === 'P-256');
  if (!jwk) throw new Error('no P-256 key with kid ' + header.kid);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const input = Buffer.concat([Buffer.from(protectedB64 + '.', 'ascii'), body]);
  const ok = crypto.verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(sig, 'base64url'));
  if (!ok) throw new Error('bad signature');
  return header;
}

function requestHash(method, path, requestId, body) {
  const bodyHex = crypto.createHash('sha256').update(body).digest('hex');
  const text = `${method.toUpperCase()}\n${path}\n${requestId}\n${bodyHex}`;
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

function main() {
  const a = args(process.argv.slice(2));
  try {
    const jwks = JSON.parse(fs.readFileSync(a.jwks, 'utf8'));
    const header = verify(jwks, a.signature, fs.readFileSync(a.body));
    if (a['request-hash'] !== undefined) {
      if (header.sim06_rqh !== a['request-hash']) {
        throw new Error('the signature does not cover this X-Request-Hash');
      }
      if (a.method && a.path && a['request-id'] !== undefined) {
        const body = a['request-body'] ? fs.readFileSync(a['request-body']) : Buffer.alloc(0);
        if (requestHash(a.method, a.path, a['request-id'], body) !== a['request-hash']) {
          throw new Error('X-Request-Hash is not the hash of this request');
        }
      }
    }
    console.log('valid: signed by ' + header.kid);
    return 0;
  } catch (err) {
    console.log('invalid: ' + err.message);
    return 1;
  }
}

process.exit(main());
