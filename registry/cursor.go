package registry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// Cursors are base64url of an HMAC-SHA256 tag followed by the last client ID
// of the page. The tag is keyed with a random per-Registry key, so a cursor
// cannot be forged or edited to start a listing anywhere else, and cursors
// stop working when the process restarts or the config reloads (the client
// then starts again from the first page).

// cursorContext binds the tag to this use of the key.
const cursorContext = "scopegate list cursor v1\x00"

// maxCursorLength bounds the text openCursor will decode.
const maxCursorLength = 1024

// cursorEncoding is strict so that each cursor has one spelling.
var cursorEncoding = base64.RawURLEncoding.Strict()

// sealCursor returns the cursor for a page that ended at lastID.
func (r *Registry) sealCursor(lastID string) string {
	tag := r.cursorTag(lastID)
	return cursorEncoding.EncodeToString(append(tag, lastID...))
}

// openCursor verifies a cursor and returns the ID it carries, or
// ErrInvalidCursor.
func (r *Registry) openCursor(cursor string) (string, error) {
	if len(cursor) > maxCursorLength {
		return "", ErrInvalidCursor
	}
	b, err := cursorEncoding.DecodeString(cursor)
	if err != nil || len(b) <= sha256.Size {
		return "", ErrInvalidCursor
	}
	tag, id := b[:sha256.Size], string(b[sha256.Size:])
	if !hmac.Equal(tag, r.cursorTag(id)) {
		return "", ErrInvalidCursor
	}
	return id, nil
}

// cursorTag is the HMAC of lastID under the Registry's cursor key.
func (r *Registry) cursorTag(lastID string) []byte {
	mac := hmac.New(sha256.New, r.cursorKey[:])
	mac.Write([]byte(cursorContext))
	mac.Write([]byte(lastID))
	return mac.Sum(nil)
}
