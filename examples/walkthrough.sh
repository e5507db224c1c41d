#!/usr/bin/env bash
# A walk through Scopegate with curl: create an API client, get a token, call
# a guarded route, rotate the secret, revoke the tokens, delete the client.
#
# Start the gateway in another terminal, from the repository's root:
#
#   go run ./caddy run --config Caddyfile.example
#
# then run this script. It needs curl and jq. Each step prints what it does
# and what the gateway answered; the script stops at the first answer that is
# not the expected one. The client it creates is deleted at the end (set
# KEEP_CLIENT=1 to keep it).
#
# Addresses, for a gateway elsewhere:
#   ADMIN     Caddy's admin endpoint      (default http://localhost:2019)
#   GATEWAY   the gateway's site          (default http://localhost:8080)
#   API       a route guarded by orders:read, orders:write for writes
#                                         (default $GATEWAY/orders/42)
#   AUDIENCE  that route's audience       (default $GATEWAY/orders)
#
# `caddy scopegate client …` does the same as the admin calls below; see
# `caddy scopegate --help`.
set -euo pipefail

ADMIN=${ADMIN:-http://localhost:2019}
GATEWAY=${GATEWAY:-http://localhost:8080}
API=${API:-$GATEWAY/orders/42}
AUDIENCE=${AUDIENCE:-$GATEWAY/orders}

if [[ -t 1 ]]; then bold=$'\e[1m' plain=$'\e[0m'; else bold='' plain=''; fi

die() { printf 'walkthrough: %s\n' "$*" >&2; exit 1; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '   %s\n' "$@"; }

command -v curl >/dev/null 2>&1 || die "curl is required; install it with your package manager"
command -v jq >/dev/null 2>&1 ||
	die "jq is required to read the JSON answers; install it (apt-get install jq, brew install jq, or https://jqlang.github.io/jq/download/)"

# call STATUS CURL_ARGS... sends a request and sets BODY and HEADERS; it stops
# the script when the answer's status is not STATUS.
BODY='' HEADERS=''
call() {
	local want=$1 headers_file status
	shift
	headers_file=$(mktemp)
	if ! BODY=$(curl -sS --max-time 10 -D "$headers_file" "$@"); then
		rm -f "$headers_file"
		die "the request failed (is the gateway running? see the top of this script): curl ${*: -1}"
	fi
	HEADERS=$(tr -d '\r' <"$headers_file")
	rm -f "$headers_file"
	status=$(head -n 1 <<<"$HEADERS" | cut -d ' ' -f 2)
	if [[ $status != "$want" ]]; then
		die "expected HTTP $want from ${*: -1}, got $status: $(jq -r '.error_description // .error // .' <<<"$BODY" 2>/dev/null || printf '%s' "$BODY")"
	fi
}

# header NAME prints a header of the last answer.
header() { grep -i "^$1:" <<<"$HEADERS" | head -n 1 | cut -d ' ' -f 2-; }

# token SECRET SCOPE asks the token endpoint for a token (client_credentials,
# client_secret_basic) and sets BODY. The credentials go to curl on its
# standard input (-K -), not its command line, which other users of the
# machine can read; the plain form is
#   curl -u "$ID:$SECRET" -d grant_type=client_credentials -d scope=… $GATEWAY/oauth2/token
token() {
	local want=$1 secret=$2 scope=$3
	call "$want" -K - -d grant_type=client_credentials -d "scope=$scope" "$GATEWAY/oauth2/token" <<<"user = \"$ID:$secret\""
}

# claims TOKEN prints a JWT's claims (decoded, not verified).
claims() { jq -R 'split(".")[1] | gsub("-"; "+") | gsub("_"; "/") | @base64d | fromjson' <<<"$1"; }

curl -sS --max-time 5 -o /dev/null "$ADMIN/scopegate/clients?limit=1" 2>/dev/null ||
	die "nothing answers at $ADMIN: start the gateway in another terminal with 'go run ./caddy run --config Caddyfile.example' (or set ADMIN)"

ID=''
cleanup() {
	if [[ -n $ID && -z ${KEEP_CLIENT:-} ]]; then
		curl -sS --max-time 5 -o /dev/null -X DELETE "$ADMIN/scopegate/clients/$ID" || true
	fi
}
trap cleanup EXIT

step "1. Create a client on the admin endpoint (POST $ADMIN/scopegate/clients)"
name="walkthrough-$(date +%s)-$$"
call 201 -H 'Content-Type: application/json' --data @- "$ADMIN/scopegate/clients" <<EOF
{"client_name": "$name", "scope": "orders:read orders:write", "audience": ["$AUDIENCE"]}
EOF
ID=$(jq -r .client_id <<<"$BODY")
SECRET=$(jq -r .client_secret <<<"$BODY")
SECRET_ID=$(jq -r .secret_id <<<"$BODY")
jq '{client_id, client_name, scope, audience, secrets}' <<<"$BODY"
show "client_secret: ${SECRET:0:10}… (shown only in this answer: store it now)" \
	"Location: $(header Location)"

step "2. Get an access token with the client's id and secret (POST $GATEWAY/oauth2/token)"
token 200 "$SECRET" orders:read
TOKEN=$(jq -r .access_token <<<"$BODY")
jq '{token_type, expires_in, scope}' <<<"$BODY"
show "The token is a JWT (RFC 9068); its claims:"
claims "$TOKEN"

step "3. Call the guarded route with the token (GET $API)"
call 200 -H "Authorization: Bearer $TOKEN" "$API"
show "200: $BODY"

step "4. Write without orders:write: refused (POST $API)"
call 403 -X POST -H "Authorization: Bearer $TOKEN" "$API"
show "403, WWW-Authenticate: $(header WWW-Authenticate)"

step "5. Call without a token: refused, with a bare challenge"
call 401 "$API"
show "401, WWW-Authenticate: $(header WWW-Authenticate)"

step "6. Rotate the secret with a grace period (POST $ADMIN/scopegate/clients/$ID/secrets)"
call 201 -H 'Content-Type: application/json' --data '{"grace_period": "10m"}' "$ADMIN/scopegate/clients/$ID/secrets"
NEW_SECRET=$(jq -r .client_secret <<<"$BODY")
jq '{secret_id, secrets}' <<<"$BODY"
show "new client_secret: ${NEW_SECRET:0:10}…; the old one works until its expires_at"
token 200 "$SECRET" orders:read
show "old secret: a token"
token 200 "$NEW_SECRET" orders:read
show "new secret: a token"

step "7. Retire the old secret now (DELETE $ADMIN/scopegate/clients/$ID/secrets/$SECRET_ID)"
call 200 -X DELETE "$ADMIN/scopegate/clients/$ID/secrets/$SECRET_ID"
jq '{secrets}' <<<"$BODY"
token 401 "$SECRET" orders:read
show "old secret: $(jq -r .error <<<"$BODY")"

step "8. Revoke every token issued so far (POST $ADMIN/scopegate/clients/$ID/revoke)"
call 200 -X POST "$ADMIN/scopegate/clients/$ID/revoke"
jq '{tokens_revoked_at}' <<<"$BODY"
call 401 -H "Authorization: Bearer $TOKEN" "$API"
show "the token from step 2: 401, WWW-Authenticate: $(header WWW-Authenticate)"
# Revocation has one-second resolution, as a token's iat has: a token asked
# for in the same second is refused with 503 and Retry-After: 1.
sleep 1
token 200 "$NEW_SECRET" orders:read
TOKEN=$(jq -r .access_token <<<"$BODY")
call 200 -H "Authorization: Bearer $TOKEN" "$API"
show "a new token works: $BODY"

if [[ -n ${KEEP_CLIENT:-} ]]; then
	step "Done. The client is kept: client_id $ID"
	exit 0
fi
step "9. Delete the client (DELETE $ADMIN/scopegate/clients/$ID)"
call 204 -X DELETE "$ADMIN/scopegate/clients/$ID"
ID_DELETED=$ID
ID=''
call 401 -H "Authorization: Bearer $TOKEN" "$API"
show "client $ID_DELETED deleted; its live token: 401"

step "Done."
