package strictjson

// Problem is what Members found wrong with a document.
type Problem int

const (
	// Invalid: not one JSON object as this reader accepts it (see Rule).
	Invalid Problem = iota + 1
	// DuplicateMember: a top-level member name appears twice.
	DuplicateMember
	// DuplicateNested: a member name appears twice in a nested object.
	DuplicateNested
	// TooDeep: arrays and objects nested more than MaxDepth deep, the
	// outer object included.
	TooDeep
)

// Error is a document Members refused. Member is the top-level member at
// fault, unescaped, or "" when the fault is before the first member or
// after the last; it is input, so callers check it before showing it.
type Error struct {
	Problem Problem
	Member  string
}

// Error names the problem, without the member.
func (e *Error) Error() string {
	switch e.Problem {
	case DuplicateMember:
		return "repeated member name"
	case DuplicateNested:
		return "repeated member name in a nested object"
	case TooDeep:
		return "nested too deep"
	}
	return "invalid JSON"
}

// Members checks that b is exactly one JSON object (with white space around
// it at most) that this reader accepts, with no member name repeated in it
// or in any object nested in it, and returns its top-level member names,
// unescaped, in order. A repeated name is refused at any depth because
// parsers disagree on which one wins, and a reviewer would see the other
// one. Errors are *Error.
func Members(b []byte) ([]string, error) {
	w := walker{members: true}
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, &Error{Problem: Invalid}
	}
	i, err := w.object(b, i, 1)
	if err != nil {
		return nil, err
	}
	if SkipSpace(b, i) != len(b) {
		return nil, &Error{Problem: Invalid, Member: w.member}
	}
	return w.top, nil
}

// walker checks the values of a document: the one walk behind SkipValue,
// which only checks syntax and depth, allocation-free, and Members, which
// also collects the top-level names and refuses a repeated name at any depth.
//
// The document is passed to each method rather than kept in the walker:
// Members' collected names leave with the walker, and the document must not
// be thought to leave with them, or a caller's stack buffer would move to
// the heap.
type walker struct {
	// members turns on Members' checks and its *Error answers; without it
	// every refusal is ErrSyntax.
	members bool
	top     []string
	member  string
}

func (w *walker) fail(p Problem) error {
	if !w.members {
		return ErrSyntax
	}
	return &Error{Problem: p, Member: w.member}
}

// object checks the object that starts at b[i], itself at nesting level
// depth, and returns the index after it.
func (w *walker) object(b []byte, i, depth int) (int, error) {
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	var names map[string]struct{}
	for {
		start, end, escaped, next, err := ScanString(b, i)
		if err != nil {
			return 0, w.fail(Invalid)
		}
		if w.members {
			if err := w.name(b[start:end], escaped, depth, &names); err != nil {
				return 0, err
			}
		}
		i = SkipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return 0, w.fail(Invalid)
		}
		if i, err = w.value(b, SkipSpace(b, i+1), depth); err != nil {
			return 0, err
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return 0, w.fail(Invalid)
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, w.fail(Invalid)
		}
	}
}

// name records a member name for Members: refused when its object has it
// already, collected when it is a top-level one.
func (w *walker) name(raw []byte, escaped bool, depth int, names *map[string]struct{}) error {
	if escaped {
		raw = Unescape(raw)
	}
	name := string(raw)
	if depth == 1 {
		w.member = name
	}
	if _, dup := (*names)[name]; dup {
		if depth == 1 {
			return w.fail(DuplicateMember)
		}
		return w.fail(DuplicateNested)
	}
	if *names == nil {
		*names = make(map[string]struct{})
	}
	(*names)[name] = struct{}{}
	if depth == 1 {
		w.top = append(w.top, name)
	}
	return nil
}

// array checks the array that starts at b[i], at nesting level depth.
func (w *walker) array(b []byte, i, depth int) (int, error) {
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = w.value(b, i, depth); err != nil {
			return 0, err
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return 0, w.fail(Invalid)
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, w.fail(Invalid)
		}
	}
}

// value checks the value at b[i], inside a container at nesting level
// depth.
func (w *walker) value(b []byte, i, depth int) (int, error) {
	if i < len(b) && (b[i] == '{' || b[i] == '[') {
		if depth >= MaxDepth {
			return 0, w.fail(TooDeep)
		}
		if b[i] == '{' {
			return w.object(b, i, depth+1)
		}
		return w.array(b, i, depth+1)
	}
	next, err := skipScalar(b, i)
	if err != nil {
		return 0, w.fail(Invalid)
	}
	return next, nil
}
