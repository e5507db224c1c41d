package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/scopegate/scopegate/scope"
)

// MethodRule adds scopes for some HTTP methods: those listed, or every
// method except those listed. It is ready for requests: methods in upper
// case, HEAD already tied to GET. Methods are compared without regard to
// case, since servers and frameworks route `delete` to their DELETE handler.
type MethodRule struct {
	methods []string
	except  bool
	scopes  []string
}

// covers reports whether the rule applies to a request with this method,
// in any ASCII case. It does not allocate.
func (m MethodRule) covers(method string) bool {
	listed := false
	for _, x := range m.methods {
		if methodIs(method, x) {
			listed = true
			break
		}
	}
	return listed != m.except
}

// methodIs reports whether method is want (upper case) in any ASCII case.
func methodIs(method, want string) bool {
	if len(method) != len(want) {
		return false
	}
	for i := 0; i < len(method); i++ {
		c := method[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// NewMethodRule checks a rule that covers methods, or every method but
// except (give one of the two), with scopes, and prepares it. HEAD answers
// what GET answers without the body, so it needs what GET needs: a rule
// covering GET covers HEAD, and HEAD is excepted only along with GET.
func NewMethodRule(methods, except, scopes []string) (MethodRule, error) {
	switch {
	case len(methods) > 0 && len(except) > 0:
		return MethodRule{}, errors.New("give methods or except_methods, not both")
	case len(methods) == 0 && len(except) == 0:
		return MethodRule{}, errors.New("needs methods or except_methods")
	case len(scopes) == 0:
		return MethodRule{}, errors.New("needs scopes")
	}
	rule := MethodRule{except: len(except) > 0, scopes: scopes}
	for _, m := range append(slices.Clone(methods), except...) {
		if !isMethodToken(m) {
			return MethodRule{}, fmt.Errorf("%q is not an HTTP method name", m)
		}
		if up := strings.ToUpper(m); !slices.Contains(rule.methods, up) {
			rule.methods = append(rule.methods, up)
		}
	}
	for _, s := range scopes {
		if err := scope.ParseToken(s); err != nil {
			return MethodRule{}, err
		}
	}
	hasGet, hasHead := slices.Contains(rule.methods, http.MethodGet), slices.Contains(rule.methods, http.MethodHead)
	switch {
	case !rule.except && hasGet && !hasHead:
		rule.methods = append(rule.methods, http.MethodHead)
	case rule.except && hasHead && !hasGet:
		rule.methods = slices.DeleteFunc(rule.methods, func(m string) bool { return m == http.MethodHead })
	}
	return rule, nil
}

// isMethodToken reports whether m is an RFC 9110 method name: a token of
// ASCII letters, digits and !#$%&'*+-.^_`|~.
func isMethodToken(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
