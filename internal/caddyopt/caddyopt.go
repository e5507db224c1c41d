// Package caddyopt reads the simple options of Scopegate's Caddyfile
// blocks: one text, one duration, one positive count, a flag, a list. It
// is the one home of how each kind is read and of its error messages, for
// the Caddy adapter (module/) and the store's guest modules
// (storage/caddystore/) alike, so that each block's parser only lists its
// options.
package caddyopt

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Text reads the single argument of the current option.
func Text(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Duration reads one duration argument in Caddy's syntax (`15m`, `1d`).
func Duration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	option := d.Val()
	var raw string
	if err := Text(d, &raw); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(raw)
	if err != nil {
		return d.Errf("%s: invalid duration %q: %v", option, raw, err)
	}
	*dst = caddy.Duration(v)
	return nil
}

// Count reads one positive whole number.
func Count(d *caddyfile.Dispenser, dst *int) error {
	option := d.Val()
	var raw string
	if err := Text(d, &raw); err != nil {
		return err
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < 1 {
		return d.Errf("%s: must be a positive whole number, not %q", option, raw)
	}
	*dst = v
	return nil
}

// Set names a block's options of the simple kinds, each with where its
// value goes.
type Set struct {
	Texts     map[string]*string
	Durations map[string]*caddy.Duration
	Counts    map[string]*int
	// Flags are options without arguments: present means true.
	Flags map[string]*bool
	// Lists take one or more arguments, and add up when repeated.
	Lists map[string]*[]string
	// Words take a key and then words, joined by single spaces (the rest
	// of the line, quoted or not), repeatable for other keys: a map of
	// texts, such as a description per scope.
	Words map[string]*map[string]string
	// Other, when set, reads an option of another kind (a nested block,
	// an option of two arguments) and reports whether it knew it.
	Other func(d *caddyfile.Dispenser, option string) (bool, error)
}

// Read reads the arguments of option when the set has it, and reports
// whether it had.
func (s Set) Read(d *caddyfile.Dispenser, option string) (bool, error) {
	switch {
	case s.Texts[option] != nil:
		return true, Text(d, s.Texts[option])
	case s.Durations[option] != nil:
		return true, Duration(d, s.Durations[option])
	case s.Counts[option] != nil:
		return true, Count(d, s.Counts[option])
	case s.Flags[option] != nil:
		*s.Flags[option] = true
		if d.NextArg() {
			return true, d.ArgErr()
		}
		return true, nil
	case s.Lists[option] != nil:
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		*s.Lists[option] = append(*s.Lists[option], args...)
		return true, nil
	case s.Words[option] != nil:
		return true, keyWords(d, option, s.Words[option])
	case s.Other != nil:
		return s.Other(d, option)
	}
	return false, nil
}

// ReadBlock reads the block that opens at the current token, which takes
// no arguments and holds only options of the set (Other's included); what
// names the block in errors ("unknown <what> option").
func (s Set) ReadBlock(d *caddyfile.Dispenser, what string) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return s.ReadOptions(d, what)
}

// ReadOptions reads the options of the block that opens after the current
// token's arguments, which the caller has read.
func (s Set) ReadOptions(d *caddyfile.Dispenser, what string) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		ok, err := s.Read(d, d.Val())
		if err != nil {
			return err
		}
		if !ok {
			return d.Errf("unknown %s option %q", what, d.Val())
		}
	}
	return nil
}

// keyWords reads `option <key> <words...>` into dst, refusing a key given
// twice.
func keyWords(d *caddyfile.Dispenser, option string, dst *map[string]string) error {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return d.ArgErr()
	}
	if _, taken := (*dst)[args[0]]; taken {
		return d.Errf("%s: %s is given twice", option, args[0])
	}
	if *dst == nil {
		*dst = make(map[string]string)
	}
	(*dst)[args[0]] = strings.Join(args[1:], " ")
	return nil
}
