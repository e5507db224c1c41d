package signin

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// Errors of readForm; each is answered with its own status.
var (
	errNotForm      = errors.New("the body must be application/x-www-form-urlencoded")
	errBodyTooLarge = errors.New("the form is too large")
	errBadForm      = errors.New("the form is malformed")
)

// readForm reads a POSTed form strictly: one Content-Type, the form media
// type, at most MaxBody bytes, well-formed encoding, and no field sent
// twice (a second value could otherwise be read by one layer and checked by
// another). The query string is never merged in, unlike r.ParseForm.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	types := r.Header.Values("Content-Type")
	if len(types) != 1 {
		return nil, errNotForm
	}
	if mediaType, _, err := mime.ParseMediaType(types[0]); err != nil || mediaType != "application/x-www-form-urlencoded" {
		return nil, errNotForm
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		}
		return nil, errBadForm
	}
	return parseForm(string(body))
}

// parseForm parses a form body and refuses any field that appears twice.
func parseForm(body string) (url.Values, error) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, errBadForm
	}
	for _, values := range form {
		if len(values) > 1 {
			return nil, errBadForm
		}
	}
	return form, nil
}
