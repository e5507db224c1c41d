package authserver

import (
	"context"
	"errors"
	"slices"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/storage"
)

// maxClientIDLen bounds a client ID read from a form or a path before the
// store is asked: generated IDs are far shorter.
const maxClientIDLen = 256

// StandingConsents returns the person's consents that stand, by client ID:
// a withdrawn consent, kept in the store for its token cutoff, grants
// nothing and is left out. The one list the account page and the admin
// API show.
func (s *Server) StandingConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	all, err := s.Store.ListUserConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c storage.Consent) bool { return !c.Granted() }), nil
}

// WithdrawConsent withdraws the person's consent to the client now: every
// token the client holds for the person stops working on its next request
// (personHolds compares its iat with the cutoff), its refresh tokens end,
// and the client must ask again. storage.ErrNotFound when the person has no standing consent to
// it. The person withdrawing on the account page and an admin through the
// API both come here.
func (s *Server) WithdrawConsent(ctx context.Context, userID, clientID string) error {
	if userID == "" || clientID == "" || len(clientID) > maxClientIDLen {
		return storage.ErrNotFound
	}
	if err := s.Store.WithdrawConsent(ctx, userID, clientID, s.Now()); err != nil {
		return err
	}
	// The refresh token families end too; were this to fail, a refresh
	// would still be refused by the consent's cutoff.
	if _, err := s.endPersonFamilies(ctx, userID, clientID, "consent withdrawn"); err != nil {
		s.Logger.Error("ending the refresh tokens of a withdrawn consent failed", zap.Error(err))
	}
	return nil
}

// ConsentAdmin gives the admin API the consents people gave to apps. It
// reads the server's store at each call, so it may be built before the
// store is open.
type ConsentAdmin struct{ Server *Server }

// ListConsents describes the user's standing consents.
func (a ConsentAdmin) ListConsents(ctx context.Context, userID string) ([]admin.ConsentInfo, error) {
	consents, err := a.Server.StandingConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	infos := make([]admin.ConsentInfo, len(consents))
	for i, c := range consents {
		infos[i] = admin.ConsentInfo{ClientID: c.ClientID, Scopes: c.Scopes, GrantedAt: c.UpdatedAt}
	}
	return infos, nil
}

// WithdrawConsent withdraws the user's consent to the client.
func (a ConsentAdmin) WithdrawConsent(ctx context.Context, userID, clientID string) error {
	err := a.Server.WithdrawConsent(ctx, userID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return admin.ErrConsentNotFound
	}
	return err
}
