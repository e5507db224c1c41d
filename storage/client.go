package storage

import "slices"

// Clone returns a deep copy of c: no slice of the copy shares memory with c,
// so either may be changed without affecting the other. Nil slices stay nil.
func (c Client) Clone() Client {
	out := c
	if c.Secrets != nil {
		out.Secrets = make([]Secret, len(c.Secrets))
		for i, s := range c.Secrets {
			s.Hash = slices.Clone(s.Hash)
			out.Secrets[i] = s
		}
	}
	out.GrantTypes = slices.Clone(c.GrantTypes)
	out.Scopes = slices.Clone(c.Scopes)
	out.Audience = slices.Clone(c.Audience)
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	out.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	out.IPAllowlist = slices.Clone(c.IPAllowlist)
	out.Features = slices.Clone(c.Features)
	out.Claims = slices.Clone(c.Claims)
	out.Metadata = slices.Clone(c.Metadata)
	return out
}
