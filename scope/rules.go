package scope

import (
	"errors"
	"fmt"
	"strings"
)

// MaxRules is the most implication rules NewRules accepts. Rules are
// configuration, a handful in practice; the cap bounds the transitive closure
// NewRules computes (at most MaxRules² derived rules).
const MaxRules = 256

// Wildcard is the character that, at the end of Rule.Implies, makes the rule
// match every scope that starts with what precedes it.
const Wildcard = '*'

// ErrWildcard: a `*` somewhere other than at the end of Rule.Implies.
var ErrWildcard = errors.New("wildcard allowed only as the last character of implies")

// ErrTooManyRules: more than MaxRules rules.
var ErrTooManyRules = errors.New("more than 256 scope implication rules")

// Rule says that a token granted Grant also satisfies every required scope
// that Implies matches. Implies is an exact scope, `*` (every scope), or
// `prefix*` (every scope that starts with prefix, for example `read:*`).
// Grant is always an exact scope: a client granted the literal scope `*`
// holds only that scope unless a rule says otherwise.
type Rule struct {
	// Grant is the scope a token holds.
	Grant string `json:"grant"`
	// Implies is what Grant also satisfies: a scope, `*`, or `prefix*`.
	Implies string `json:"implies"`
}

// Mode says how many of a route's required scopes a token must satisfy.
type Mode int

const (
	// All requires every required scope. It is the zero value, so an unset
	// mode is the strict one.
	All Mode = iota
	// Any requires at least one of the required scopes.
	Any
)

// String returns "all" or "any".
func (m Mode) String() string {
	switch m {
	case All:
		return "all"
	case Any:
		return "any"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Rules is a validated set of implication rules. A nil *Rules holds no rules:
// matching is then exact. Rules is immutable and safe for concurrent use.
//
// Rules are transitive: with `admin` → `read:full` and `read:full` → `read:*`,
// a token granted `admin` satisfies `read:orders`. NewRules computes the
// closure once, so matching never chains at request time.
type Rules struct {
	rules []rule
}

// rule is one validated (possibly derived) rule.
type rule struct {
	grant string
	// pattern is the exact scope, or the prefix when prefix is set.
	pattern string
	prefix  bool
}

// matches reports whether the rule's Implies side matches scope.
func (r rule) matches(scope string) bool {
	if r.prefix {
		return strings.HasPrefix(scope, r.pattern)
	}
	return scope == r.pattern
}

// covers reports whether every scope other's pattern matches is also
// matched by r's, so that r makes other redundant for the same grant.
func (r rule) covers(other rule) bool {
	if !r.prefix {
		return !other.prefix && other.pattern == r.pattern
	}
	return strings.HasPrefix(other.pattern, r.pattern)
}

// NewRules validates rules and returns them ready for matching. Grant must be
// a valid scope token; Implies must be a valid scope token whose only `*`, if
// any, is its last character. Duplicate and redundant rules are dropped. The
// error names the rule by its index (0-based) and the rule it broke.
func NewRules(rules []Rule) (*Rules, error) {
	if len(rules) > MaxRules {
		return nil, ErrTooManyRules
	}
	var direct []rule
	for i, r := range rules {
		if err := ParseToken(r.Grant); err != nil {
			return nil, fmt.Errorf("scope rule %d: grant: %w", i, err)
		}
		if err := ParseToken(r.Implies); err != nil {
			return nil, fmt.Errorf("scope rule %d: implies: %w", i, err)
		}
		pattern, prefix := strings.CutSuffix(r.Implies, string(Wildcard))
		if strings.IndexByte(pattern, Wildcard) >= 0 {
			return nil, fmt.Errorf("scope rule %d: implies: %w", i, ErrWildcard)
		}
		direct = append(direct, rule{grant: r.Grant, pattern: pattern, prefix: prefix})
	}
	return &Rules{rules: prune(closure(direct))}, nil
}

// closure adds, for every rule a → P and every rule b → Q where P matches b,
// the rule a → Q, until nothing new appears. With n direct rules the result
// holds at most n² rules, so the loop ends.
func closure(rules []rule) []rule {
	seen := make(map[rule]struct{}, len(rules))
	out := make([]rule, 0, len(rules))
	for _, r := range rules {
		if _, ok := seen[r]; !ok {
			seen[r] = struct{}{}
			out = append(out, r)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, next := range rules {
			if !out[i].matches(next.grant) {
				continue
			}
			derived := rule{grant: out[i].grant, pattern: next.pattern, prefix: next.prefix}
			if _, ok := seen[derived]; !ok {
				seen[derived] = struct{}{}
				out = append(out, derived)
			}
		}
	}
	return out
}

// prune drops rules that add nothing: a rule whose grant already matches its
// own exact pattern (holding the grant satisfies it anyway), and a rule
// covered by another rule for the same grant. Of two equal rules the first is
// kept, so the order of the configuration is preserved. Rules are compared
// only within their grant, which keeps the cost at grants × patterns².
func prune(rules []rule) []rule {
	byGrant := make(map[string][]int)
	for i, r := range rules {
		byGrant[r.grant] = append(byGrant[r.grant], i)
	}
	out := make([]rule, 0, len(rules))
	for i, r := range rules {
		if !r.prefix && r.pattern == r.grant {
			continue
		}
		redundant := false
		for _, j := range byGrant[r.grant] {
			o := rules[j]
			if i == j || !o.covers(r) {
				continue
			}
			// Two rules covering each other are equal; keep the earlier.
			if !r.covers(o) || j < i {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, r)
		}
	}
	return out
}

// Len returns the number of rules in effect after closure and pruning.
func (r *Rules) Len() int {
	if r == nil {
		return 0
	}
	return len(r.rules)
}

// satisfied reports whether granted satisfies the one required scope, either
// directly or through a rule.
func (r *Rules) satisfied(granted Set, required string) bool {
	if granted.Has(required) {
		return true
	}
	if r == nil {
		return false
	}
	for _, rl := range r.rules {
		if rl.matches(required) && granted.Has(rl.grant) {
			return true
		}
	}
	return false
}

// Satisfies reports whether granted satisfies required under mode. An empty
// required list is satisfied in either mode (the route asks for nothing); an
// unknown mode is never satisfied. It does not allocate.
func (r *Rules) Satisfies(granted Set, required []string, mode Mode) bool {
	switch mode {
	case All:
		for _, s := range required {
			if !r.satisfied(granted, s) {
				return false
			}
		}
		return true
	case Any:
		if len(required) == 0 {
			return true
		}
		for _, s := range required {
			if r.satisfied(granted, s) {
				return true
			}
		}
		return false
	}
	return false
}

// Allowed returns the scopes of wanted that granted satisfies, directly or
// through a rule, in wanted's order: how what a person's roles grant narrows
// a token issued for them (a role granting "full", with "full" implying
// "*", allows every scope). When granted satisfies all of wanted, it
// returns wanted itself without allocating.
func (r *Rules) Allowed(granted, wanted Set) Set {
	for i, v := range wanted.list {
		if !r.satisfied(granted, v) {
			return wanted.keepFrom(i, func(s string) bool { return r.satisfied(granted, s) })
		}
	}
	return wanted
}

// PersonAllowed is Allowed for what a person may delegate to an app: the
// identity scopes (IsIdentity) are kept whatever granted holds, as any
// person may consent to them; every other scope must be satisfied by
// granted. When all of wanted is kept, it returns wanted itself without
// allocating.
func (r *Rules) PersonAllowed(granted, wanted Set) Set {
	for i, v := range wanted.list {
		if !IsIdentity(v) && !r.satisfied(granted, v) {
			return wanted.keepFrom(i, func(s string) bool { return IsIdentity(s) || r.satisfied(granted, s) })
		}
	}
	return wanted
}

// Missing returns the required scopes that granted does not satisfy, in
// order, for the scope attribute of an insufficient_scope challenge; nil
// when all are satisfied, in which case it does not allocate.
func (r *Rules) Missing(granted Set, required []string) []string {
	var missing []string
	for _, s := range required {
		if !r.satisfied(granted, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// CheckPattern checks a scope pattern, the form of Rule.Implies: an exact
// scope, `*`, or `prefix*`.
func CheckPattern(p string) error {
	if err := ParseToken(p); err != nil {
		return err
	}
	if strings.IndexByte(strings.TrimSuffix(p, string(Wildcard)), Wildcard) >= 0 {
		return ErrWildcard
	}
	return nil
}

// MatchesPattern reports whether scope is matched by a pattern that
// CheckPattern accepts: equal to it, or starting with what precedes its
// final `*`.
func MatchesPattern(pattern, scope string) bool {
	if prefix, ok := strings.CutSuffix(pattern, string(Wildcard)); ok {
		return strings.HasPrefix(scope, prefix)
	}
	return scope == pattern
}
