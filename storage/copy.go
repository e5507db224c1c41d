package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CopyStats counts what Copy did.
type CopyStats struct {
	// Clients were created in the destination; ClientsSkipped were there
	// already, under the same ID, and were left as they are.
	Clients, ClientsSkipped int
	// SigningKeys were added to the destination's key set;
	// SigningKeysSkipped had an ID the destination held already.
	SigningKeys, SigningKeysSkipped int
	// Revocations is how many unexpired revocations were recorded.
	Revocations int
	// Usage is how many of the created clients had counters to copy.
	Usage int
	// Roles and Users were created in the destination; RolesSkipped and
	// UsersSkipped were there already (a role by name, a user by ID).
	Roles, RolesSkipped int
	Users, UsersSkipped int
	// Sessions were created in the destination; SessionsSkipped were
	// there already (by ID). Sessions that have ended are not copied.
	Sessions, SessionsSkipped int
	// Consents were created in the destination, withdrawn ones included
	// (they keep their token cutoff); ConsentsSkipped were there already
	// for the same user and client.
	Consents, ConsentsSkipped int
	// AuthRequests and AuthCodes were created in the destination, live
	// ones only; the Skipped counts were there already (by ID), so a flow
	// in progress finishes on either store.
	AuthRequests, AuthRequestsSkipped int
	AuthCodes, AuthCodesSkipped       int
	// RefreshFamilies were created in the destination, live ones only,
	// with their spent tokens, so that a replay after the move is still
	// seen; RefreshFamiliesSkipped were there already (by ID).
	RefreshFamilies, RefreshFamiliesSkipped int
}

// copyPage is how many clients Copy reads at once.
const copyPage = 100

// copyNow is Copy's clock, for the revocations that are still live.
var copyNow = time.Now

// Copy copies everything src holds into dst: clients (every field as
// stored: IDs, secret hashes, timestamps), signing keys, revocations that
// have not expired, the usage counters of the clients it creates, roles and
// users (password hashes as stored) and their sessions that have not
// ended, so nobody is signed out by the move, their consents, and the
// authorization requests and codes that have not expired. It is
// what `caddy scopegate store migrate` runs to move a single-machine
// deployment to a shared store without re-creating its clients.
//
// It is safe to run again, after a failure or on a destination in use:
//   - A client whose ID dst holds already is skipped, whatever its
//     content, and so are its usage counters, so a second run counts
//     nothing twice. A client whose name another client holds in dst (a
//     different ID) stops the copy with ErrAlreadyExists: that conflict is
//     the operator's to settle.
//   - Signing keys are merged into dst's set by key ID: dst's own keys stay,
//     and a key whose ID dst holds is skipped. A dst that holds no keys and
//     has nothing to add is not written.
//   - Revocations are recorded again, which a Store takes as no change.
//   - A role whose name dst holds, and a user whose ID dst holds, are
//     skipped as clients are; a user whose username another user holds in
//     dst stops the copy with ErrAlreadyExists.
//   - A session whose ID dst holds is skipped. dst's per-user session
//     limit is not applied.
//   - A consent dst holds for the same user and client is skipped, and
//     so is a request or code whose ID dst holds.
//
// dst's client and user limits are not applied. Copy stops at the first error; what
// was copied by then stays, and a second run completes it.
func Copy(ctx context.Context, dst, src Store) (CopyStats, error) {
	var stats CopyStats
	if dst == nil || src == nil {
		return stats, errors.New("storage: copy: nil store")
	}
	if err := copyKeys(ctx, dst, src, &stats); err != nil {
		return stats, fmt.Errorf("storage: copy: signing keys: %w", err)
	}
	if err := copyClients(ctx, dst, src, &stats); err != nil {
		return stats, fmt.Errorf("storage: copy: %w", err)
	}
	// Roles before users, so that no copied user names a role dst lacks.
	if err := copyRoles(ctx, dst, src, &stats); err != nil {
		return stats, fmt.Errorf("storage: copy: %w", err)
	}
	if err := copyUsers(ctx, dst, src, &stats); err != nil {
		return stats, fmt.Errorf("storage: copy: %w", err)
	}
	if err := copyAuthRecords(ctx, dst, src, &stats); err != nil {
		return stats, fmt.Errorf("storage: copy: %w", err)
	}
	revocations, err := src.Revocations(ctx, copyNow())
	if err != nil {
		return stats, fmt.Errorf("storage: copy: read revocations: %w", err)
	}
	for _, r := range revocations {
		if err := dst.Revoke(ctx, r); err != nil {
			return stats, fmt.Errorf("storage: copy: revocation of a token of client %q: %w", r.ClientID, err)
		}
		stats.Revocations++
	}
	return stats, nil
}

// copyKeys merges src's signing keys into dst's set.
func copyKeys(ctx context.Context, dst, src Store, stats *CopyStats) error {
	keys, err := src.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	var added, skipped int
	_, err = dst.UpdateSigningKeys(ctx, func(current []SigningKey) ([]SigningKey, error) {
		// May run more than once: the counts are those of the last run.
		added, skipped = 0, 0
		held := make(map[string]bool, len(current))
		for _, k := range current {
			held[k.ID] = true
		}
		next := current
		for _, k := range keys {
			if held[k.ID] {
				skipped++
				continue
			}
			next = append(next[:len(next):len(next)], k)
			added++
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	stats.SigningKeys += added
	stats.SigningKeysSkipped += skipped
	return nil
}

// copyClients creates src's clients in dst, page by page, with the usage
// counters of each one created.
func copyClients(ctx context.Context, dst, src Store, stats *CopyStats) error {
	after := ""
	for {
		page, more, err := src.ListClients(ctx, ListOptions{After: after, Limit: copyPage})
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		usage := make(map[string]Usage)
		for _, c := range page {
			created, err := copyClient(ctx, dst, c)
			if err != nil {
				return err
			}
			if !created {
				stats.ClientsSkipped++
				continue
			}
			stats.Clients++
			u, err := src.Usage(ctx, c.ID)
			if err != nil {
				return fmt.Errorf("read usage of client %q: %w", c.ID, err)
			}
			if u != (Usage{}) {
				usage[c.ID] = u
			}
		}
		if len(usage) > 0 {
			if err := dst.AddUsage(ctx, usage); err != nil {
				return fmt.Errorf("add usage: %w", err)
			}
			stats.Usage += len(usage)
		}
		if !more || len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// copyClient creates c in dst; false when dst holds its ID already.
func copyClient(ctx context.Context, dst Store, c Client) (bool, error) {
	err := dst.CreateClient(ctx, c, 0)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, ErrAlreadyExists) {
		return false, fmt.Errorf("client %q: %w", c.ID, err)
	}
	if _, err := dst.GetClient(ctx, c.ID); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("client %q: %w", c.ID, err)
	}
	return false, fmt.Errorf("client %q: its name %q is another client's in the destination: %w", c.ID, c.Name, ErrAlreadyExists)
}

// copyRoles creates src's roles in dst, skipping names dst holds.
func copyRoles(ctx context.Context, dst, src Store, stats *CopyStats) error {
	after := ""
	for {
		page, more, err := src.ListRoles(ctx, ListOptions{After: after, Limit: copyPage})
		if err != nil {
			return fmt.Errorf("list roles: %w", err)
		}
		for _, r := range page {
			err := dst.CreateRole(ctx, r)
			switch {
			case err == nil:
				stats.Roles++
			case errors.Is(err, ErrAlreadyExists):
				stats.RolesSkipped++
			default:
				return fmt.Errorf("role %q: %w", r.Name, err)
			}
		}
		if !more || len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].Name
	}
}

// copyUsers creates src's users in dst, skipping IDs dst holds.
func copyUsers(ctx context.Context, dst, src Store, stats *CopyStats) error {
	after := ""
	for {
		page, more, err := src.ListUsers(ctx, ListOptions{After: after, Limit: copyPage})
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		for _, u := range page {
			if err := copySessions(ctx, dst, src, u.ID, stats); err != nil {
				return err
			}
			if err := copyConsents(ctx, dst, src, u.ID, stats); err != nil {
				return err
			}
			if err := copyRefreshFamilies(ctx, dst, src, u.ID, stats); err != nil {
				return err
			}
			err := dst.CreateUser(ctx, u, 0)
			if err == nil {
				stats.Users++
				continue
			}
			if !errors.Is(err, ErrAlreadyExists) {
				return fmt.Errorf("user %q: %w", u.ID, err)
			}
			// Taken by ID (skip) or by username (the operator's to settle).
			if _, err := dst.GetUser(ctx, u.ID); err == nil {
				stats.UsersSkipped++
				continue
			} else if !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("user %q: %w", u.ID, err)
			}
			return fmt.Errorf("user %q: its username %q is another user's in the destination: %w", u.ID, u.Username, ErrAlreadyExists)
		}
		if !more || len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// copySessions creates the user's live sessions of src in dst, skipping
// IDs dst holds. It runs for every user, created or skipped, so that a
// second run completes a copy that stopped half-way.
func copySessions(ctx context.Context, dst, src Store, userID string, stats *CopyStats) error {
	held, err := src.ListUserSessions(ctx, userID)
	if err != nil {
		return fmt.Errorf("list sessions of user %q: %w", userID, err)
	}
	now := copyNow()
	for _, s := range held {
		if !s.Live(now) {
			continue
		}
		err := dst.CreateSession(ctx, s, 0)
		switch {
		case err == nil:
			stats.Sessions++
		case errors.Is(err, ErrAlreadyExists):
			stats.SessionsSkipped++
		default:
			return fmt.Errorf("session %q of user %q: %w", s.ID, userID, err)
		}
	}
	return nil
}

// errConsentHeld stops a PutConsent of Copy's when dst holds the pair.
var errConsentHeld = errors.New("consent held already")

// copyConsents creates the user's consents of src in dst, withdrawn ones
// too, skipping pairs dst holds. It runs for every user, as copySessions.
func copyConsents(ctx context.Context, dst, src Store, userID string, stats *CopyStats) error {
	held, err := src.ListUserConsents(ctx, userID)
	if err != nil {
		return fmt.Errorf("list consents of user %q: %w", userID, err)
	}
	for _, c := range held {
		_, err := dst.PutConsent(ctx, c.UserID, c.ClientID, func(old Consent) (Consent, error) {
			if !old.CreatedAt.IsZero() || !old.UpdatedAt.IsZero() {
				return old, errConsentHeld
			}
			return c.Clone(), nil
		})
		switch {
		case err == nil:
			stats.Consents++
		case errors.Is(err, errConsentHeld):
			stats.ConsentsSkipped++
		default:
			return fmt.Errorf("consent of user %q to client %q: %w", userID, c.ClientID, err)
		}
	}
	return nil
}

// copyRefreshFamilies creates the user's live refresh token families of
// src in dst, skipping IDs dst holds. It runs for every user, as
// copySessions.
func copyRefreshFamilies(ctx context.Context, dst, src Store, userID string, stats *CopyStats) error {
	held, err := src.ListUserRefreshFamilies(ctx, userID)
	if err != nil {
		return fmt.Errorf("list refresh token families of user %q: %w", userID, err)
	}
	now := copyNow()
	for _, f := range held {
		if !f.Live(now) {
			continue
		}
		err := dst.CreateRefreshFamily(ctx, f)
		switch {
		case err == nil:
			stats.RefreshFamilies++
		case errors.Is(err, ErrAlreadyExists):
			stats.RefreshFamiliesSkipped++
		default:
			return fmt.Errorf("refresh token family %q of user %q: %w", f.ID, userID, err)
		}
	}
	return nil
}

// copyAuthRecords creates src's live authorization requests and codes in
// dst, skipping IDs dst holds. A code keeps its UsedAt and TokenIDs, so a
// code redeemed before the move is still refused, as reuse, after it.
func copyAuthRecords(ctx context.Context, dst, src Store, stats *CopyStats) error {
	requests, codes, err := src.LiveAuthRecords(ctx, copyNow())
	if err != nil {
		return fmt.Errorf("list authorization records: %w", err)
	}
	for _, r := range requests {
		err := dst.CreateAuthRequest(ctx, r)
		switch {
		case err == nil:
			stats.AuthRequests++
		case errors.Is(err, ErrAlreadyExists):
			stats.AuthRequestsSkipped++
		default:
			return fmt.Errorf("authorization request %q: %w", r.ID, err)
		}
	}
	for _, c := range codes {
		err := dst.CreateAuthCode(ctx, c)
		switch {
		case err == nil:
			stats.AuthCodes++
		case errors.Is(err, ErrAlreadyExists):
			stats.AuthCodesSkipped++
		default:
			return fmt.Errorf("authorization code %q: %w", c.ID, err)
		}
	}
	return nil
}
