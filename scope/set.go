package scope

import (
	"slices"
)

// sortedThreshold is the size from which a Set answers Has by binary search
// over a sorted copy; smaller sets are scanned, which is faster for the few
// scopes a typical token carries.
const sortedThreshold = 12

// Set is an immutable set of granted scopes, built once per token. The zero
// value is the empty set. A Set is safe for concurrent use.
type Set struct {
	list   []string // distinct scopes, in first-seen order
	sorted []string // sorted copy of list; nil when list is short
}

// NewSet returns the set of the given scopes, duplicates dropped. The scopes
// are taken as they are, without validation: use ParseSet for untrusted text.
// The slice is copied, so the caller may reuse it.
func NewSet(scopes []string) Set {
	if len(scopes) == 0 {
		return Set{}
	}
	list := dedup(slices.Clone(scopes))
	s := Set{list: list}
	if len(list) >= sortedThreshold {
		s.sorted = slices.Clone(list)
		slices.Sort(s.sorted)
	}
	return s
}

// ParseSet parses a scope string with Parse and returns its set.
func ParseSet(s string) (Set, error) {
	list, err := Parse(s)
	if err != nil {
		return Set{}, err
	}
	// Parse has already removed duplicates into a fresh slice, so NewSet's
	// copy would be wasted.
	set := Set{list: list}
	if len(list) >= sortedThreshold {
		set.sorted = slices.Clone(list)
		slices.Sort(set.sorted)
	}
	return set, nil
}

// Has reports whether the set holds exactly s (case-sensitive, no implication
// rules). It does not allocate.
func (s Set) Has(scope string) bool {
	if s.sorted != nil {
		_, found := slices.BinarySearch(s.sorted, scope)
		return found
	}
	for _, v := range s.list {
		if v == scope {
			return true
		}
	}
	return false
}

// Len returns the number of distinct scopes in the set.
func (s Set) Len() int { return len(s.list) }

// Strings returns the scopes in first-seen order, as a new slice.
func (s Set) Strings() []string {
	if len(s.list) == 0 {
		return nil
	}
	return slices.Clone(s.list)
}

// String returns the scopes joined by single spaces, as in a token's scope
// claim.
func (s Set) String() string { return Join(s.list) }

// Intersect returns the scopes of s that other also holds, in s's order.
// When other holds every scope of s, it returns s itself without allocating:
// the common case where nothing was taken away costs one Has per scope.
func (s Set) Intersect(other Set) Set {
	for i, v := range s.list {
		if !other.Has(v) {
			return s.keepFrom(i, other.Has)
		}
	}
	return s
}

// IntersectList is Intersect with a plain list for other, such as a stored
// record's scopes, so that no set is built for one look: it returns s
// itself without allocating when list holds every scope of s.
func (s Set) IntersectList(list []string) Set {
	listed := func(v string) bool { return slices.Contains(list, v) }
	for i, v := range s.list {
		if !listed(v) {
			return s.keepFrom(i, listed)
		}
	}
	return s
}

// keepFrom builds the subset of the scopes keep accepts once s.list[first]
// is known to be refused: the scopes before it are all kept.
func (s Set) keepFrom(first int, keep func(string) bool) Set {
	kept := make([]string, first, len(s.list)-1)
	copy(kept, s.list[:first])
	for _, v := range s.list[first+1:] {
		if keep(v) {
			kept = append(kept, v)
		}
	}
	return NewSet(kept)
}
