package scope

// OpenID Connect's identity scopes (Core §3.1.2.1, §5.4, §11): what a person
// may let an app know about them, or let it keep doing while they are away.
const (
	OpenID        = "openid"
	Profile       = "profile"
	Email         = "email"
	OfflineAccess = "offline_access"
)

// IdentityScopes are the identity scopes, in the order discovery lists them.
var IdentityScopes = []string{OpenID, Profile, Email, OfflineAccess}

// IsIdentity reports whether s is one of the identity scopes: any person
// may consent to them, whatever their roles, as they concern the person
// alone. A client must still be allowed them, as any scope.
func IsIdentity(s string) bool {
	switch s {
	case OpenID, Profile, Email, OfflineAccess:
		return true
	}
	return false
}
