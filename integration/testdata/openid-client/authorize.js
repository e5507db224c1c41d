// Runs the unmodified openid-client library's authorization code grant with
// PKCE against a Scopegate gateway, for integration/openidclient_test.go.
//
// Input, from the environment: ISSUER (the gateway's issuer URL), CLIENT_ID
// (a public client), REDIRECT_URI, SCOPE and RESOURCE_URL (a guarded route).
// Trust in the gateway's TLS certificate comes from NODE_EXTRA_CA_CERTS.
//
// The script prints one JSON line {"authorization_url": …}; the person's part
// (sign-in and consent) happens elsewhere, and the URL the gateway redirected
// to is written back on stdin, one per line. For each line it runs the grant
// and prints {"error": …} when openid-client refuses the response, or, once
// it succeeds, calls RESOURCE_URL with the access token, prints
// {"token": …, "resource": …} and exits.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const { ISSUER, CLIENT_ID, REDIRECT_URI, SCOPE, RESOURCE_URL } = process.env;

function emit(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

// The gateway publishes RFC 8414 metadata; OpenID Connect discovery comes
// with a later release, so the library reads the OAuth 2.0 document.
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.None(), {
  algorithm: 'oauth2',
  timeout: 10,
});

const pkceCodeVerifier = client.randomPKCECodeVerifier();
const expectedState = client.randomState();
const authorizationURL = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI,
  scope: SCOPE,
  state: expectedState,
  code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
  code_challenge_method: 'S256',
});
emit({
  authorization_url: authorizationURL.href,
  iss_parameter_supported: config.serverMetadata().authorization_response_iss_parameter_supported === true,
});

for await (const line of createInterface({ input: process.stdin })) {
  let tokens;
  try {
    tokens = await client.authorizationCodeGrant(config, new URL(line), { pkceCodeVerifier, expectedState });
  } catch (err) {
    // openid-client wraps the check that failed: its message is the cause's.
    emit({ error: { code: err.code ?? '', message: err.message, cause: err.cause?.message ?? '' } });
    continue;
  }
  const response = await client.fetchProtectedResource(config, tokens.access_token, new URL(RESOURCE_URL), 'GET');
  emit({
    token: { token_type: tokens.token_type, scope: tokens.scope, expires_in: tokens.expires_in },
    resource: { status: response.status, body: await response.text() },
  });
  process.exit(0);
}
process.exit(1);
