// Package token mints and verifies Scopegate's access tokens: JWTs per RFC 9068
// (header typ "at+jwt", an asymmetric alg and a kid), signed with keys that the
// package generates, loads from PEM or JWK files and rotates.
//
// The package has three parts:
//
//   - Keys: GenerateKey and KeyFromFile (PEM or JWK) produce storage.SigningKey records;
//     Rotate, EnsureKeys and RevokeKey are pure functions over the stored key
//     set; NewKeySet parses a key set once into an immutable KeySet that signs,
//     verifies and renders the public JWKS.
//   - Signing: KeySet.Sign writes a Claims value as a compact JWS with a
//     pre-rendered header and a payload built without reflection.
//   - Verification: Verifier.Verify is the guard's hot path. It is a strict,
//     fixed-order check (length, shape, base64url alphabet, header, pinned key
//     and algorithm, signature, then claims) built on crypto/ecdsa, crypto/rsa
//     and crypto/ed25519 directly. VerifiedCache remembers what a verified
//     token says about itself; a hit needs the whole token, byte for byte.
//
// Every error that Verify returns is safe to show to a client and to log: it
// never contains token bytes.
package token
