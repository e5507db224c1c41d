package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// checkPatch refuses a merge patch that is not one JSON object of writable
// fields. Checking the patch itself, not only the merged result, also
// refuses {"client_id": null}: a patch that names a read-only field is a
// mistake even when it would change nothing.
func (fs fieldSet) checkPatch(patch []byte) error {
	_, keys, err := decodeObject(patch)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := fs.checkWritable(k); err != nil {
			return err
		}
	}
	return nil
}

// member is one name/value pair of a JSON object, kept in document order.
type member struct {
	name    string
	value   json.RawMessage
	removed bool
}

// applyMergePatch applies an RFC 7396 JSON merge patch to target. Members
// keep their order and values their exact text (numbers are never
// converted), so untouched parts of claims and metadata come back as they
// were stored. Both documents must be valid JSON.
func applyMergePatch(target, patch []byte) ([]byte, error) {
	patch = bytes.TrimSpace(patch)
	if len(patch) == 0 || patch[0] != '{' {
		return patch, nil
	}
	var members []member
	if t := bytes.TrimSpace(target); len(t) > 0 && t[0] == '{' {
		var err error
		if members, err = objectMembers(t); err != nil {
			return nil, err
		}
	}
	index := make(map[string]int, len(members))
	for i, m := range members {
		index[m.name] = i
	}
	changes, err := objectMembers(patch)
	if err != nil {
		return nil, err
	}
	for _, p := range changes {
		i, exists := index[p.name]
		if string(p.value) == "null" {
			if exists {
				members[i].removed = true
				delete(index, p.name)
			}
			continue
		}
		var current json.RawMessage
		if exists {
			current = members[i].value
		}
		merged, err := applyMergePatch(current, p.value)
		if err != nil {
			return nil, err
		}
		if exists {
			members[i].value = merged
			continue
		}
		index[p.name] = len(members)
		members = append(members, member{name: p.name, value: merged})
	}
	return encodeMembers(members)
}

// objectMembers splits a JSON object into its members.
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("merge patch: %w", err)
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("merge patch: %w", err)
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("merge patch: %w", err)
		}
		members = append(members, member{name: name, value: value})
	}
	return members, nil
}

// encodeMembers writes the members that were not removed as a JSON object.
func encodeMembers(members []member) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	first := true
	for _, m := range members {
		if m.removed {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		if err := enc.Encode(m.name); err != nil {
			return nil, fmt.Errorf("merge patch: %w", err)
		}
		buf.Truncate(buf.Len() - 1) // Encode ends with a newline
		buf.WriteByte(':')
		buf.Write(m.value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
