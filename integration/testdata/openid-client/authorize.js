// Runs the unmodified openid-client library's authorization code grant with
// PKCE and OpenID Connect against a Scopegate gateway, for
// integration/openidclient_test.go.
//
// Input, from the environment: ISSUER (the gateway's issuer URL), CLIENT_ID
// (a public client), REDIRECT_URI, SCOPE and RESOURCE_URL (a guarded route).
// Trust in the gateway's TLS certificate comes from NODE_EXTRA_CA_CERTS.
//
// The script discovers the gateway as a default configuration does (OpenID
// Connect discovery), prints one JSON line {"authorization_url": …}; the
// person's part (sign-in and consent) happens elsewhere, and the URL the
// gateway redirected to is written back on stdin, one per line, optionally
// followed by a space and a nonce to expect instead of the request's (a
// replayed or mismatched nonce). For each line it runs the grant, which
// validates the id_token's claims and nonce, and prints {"error": …} when
// openid-client refuses the response, or, once it succeeds, reads UserInfo
// and calls RESOURCE_URL with the access token, prints {"token": …,
// "id_token": …, "userinfo": …, "resource": …} and exits.
//
// With POST_LOGOUT_REDIRECT_URI set, the app then lives on with the person
// away: it refreshes (the refresh token rotates) and calls RESOURCE_URL with
// the new access token, revokes the refresh token (RFC 7009), tries it
// again, calls RESOURCE_URL once more, and prints {"refreshed": …,
// "revoked": …, "end_session_url": …, "logout_state": …}: the URL of
// RP-initiated logout with the id_token as its hint, for the person's
// browser to open.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const { ISSUER, CLIENT_ID, REDIRECT_URI, SCOPE, RESOURCE_URL, POST_LOGOUT_REDIRECT_URI } = process.env;

function emit(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

// call answers RESOURCE_URL's status for an access token: the library
// throws on a refusal that carries a WWW-Authenticate challenge.
async function call(accessToken) {
  try {
    const response = await client.fetchProtectedResource(config, accessToken, new URL(RESOURCE_URL), 'GET');
    return { status: response.status, body: await response.text() };
  } catch (err) {
    return { status: err.response?.status ?? 0, error: err.code ?? err.message };
  }
}

// The library's default: OpenID Connect discovery at the issuer's
// /.well-known/openid-configuration.
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.None(), {
  timeout: 10,
});

const pkceCodeVerifier = client.randomPKCECodeVerifier();
const expectedState = client.randomState();
const nonce = client.randomNonce();
const authorizationURL = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI,
  scope: SCOPE,
  state: expectedState,
  nonce,
  code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
  code_challenge_method: 'S256',
});
emit({
  authorization_url: authorizationURL.href,
  nonce,
  iss_parameter_supported: config.serverMetadata().authorization_response_iss_parameter_supported === true,
});

for await (const line of createInterface({ input: process.stdin })) {
  const [callback, otherNonce] = line.split(' ');
  let tokens;
  try {
    tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier,
      expectedState,
      expectedNonce: otherNonce ?? nonce,
    });
  } catch (err) {
    // openid-client wraps the check that failed: its message is the cause's.
    emit({ error: { code: err.code ?? '', message: err.message, cause: err.cause?.message ?? '' } });
    continue;
  }
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const response = await client.fetchProtectedResource(config, tokens.access_token, new URL(RESOURCE_URL), 'GET');
  emit({
    token: { token_type: tokens.token_type, scope: tokens.scope, expires_in: tokens.expires_in },
    // The raw tokens go back to the test, whose go-oidc verifier checks the
    // id_token's signature and at_hash on this same flow.
    access_token: tokens.access_token,
    id_token: tokens.id_token,
    id_token_claims: claims,
    userinfo,
    resource: { status: response.status, body: await response.text() },
  });
  if (!POST_LOGOUT_REDIRECT_URI) {
    process.exit(0);
  }
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedCall = await call(refreshed.access_token);
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  let refusal = '';
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (err) {
    refusal = err.error ?? err.code ?? err.message;
  }
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
    state: logoutState,
  });
  emit({
    refreshed: {
      rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
      scope: refreshed.scope,
      resource: refreshedCall,
    },
    revoked: { refresh_error: refusal, resource: await call(refreshed.access_token) },
    end_session_url: endSession.href,
    logout_state: logoutState,
  });
  process.exit(0);
}
process.exit(1);
