package authserver

import (
	"context"

	"github.com/scopegate/scopegate/admin"
)

// GrantAdmin gives the admin API the refresh token grants people gave
// apps. It reads the server's store at each call, so it may be built
// before the store is open.
type GrantAdmin struct{ Server *Server }

// ListGrants describes the user's live refresh token families.
func (a GrantAdmin) ListGrants(ctx context.Context, userID string) ([]admin.GrantInfo, error) {
	families, err := a.Server.Store.ListUserRefreshFamilies(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := a.Server.Now()
	infos := make([]admin.GrantInfo, 0, len(families))
	for _, f := range families {
		if !f.Live(now) {
			continue
		}
		infos = append(infos, admin.GrantInfo{
			ClientID: f.ClientID, Scopes: f.Scopes, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt, ExpiresAt: f.ExpiresAt,
		})
	}
	return infos, nil
}

// RevokeGrants ends the user's refresh token families with the client and
// the access tokens they gave.
func (a GrantAdmin) RevokeGrants(ctx context.Context, userID, clientID string) error {
	if userID == "" || clientID == "" || len(clientID) > maxClientIDLen {
		return admin.ErrGrantNotFound
	}
	ended, err := a.Server.endPersonFamilies(ctx, userID, clientID, "revoked by an administrator")
	if err != nil {
		return err
	}
	if ended == 0 {
		return admin.ErrGrantNotFound
	}
	return nil
}
