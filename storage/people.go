package storage

import "time"

// PeopleTally counts the distinct people who use each client: who hold a
// standing consent to it (Consent.Granted) or a live refresh token family
// of it (RefreshFamily.Live). It is the one rule every store's
// ClientPeople counts by; a person with both a consent and a family, or
// several families, is counted once.
type PeopleTally struct {
	seen   map[clientPerson]struct{}
	counts map[string]int
}

// clientPerson is one person using one client.
type clientPerson struct{ clientID, userID string }

// Consent counts c's person for its client when the consent stands.
func (t *PeopleTally) Consent(c Consent) {
	if c.Granted() {
		t.add(c.ClientID, c.UserID)
	}
}

// Family counts f's person for its client when the family is live at now.
func (t *PeopleTally) Family(f RefreshFamily, now time.Time) {
	if f.Live(now) {
		t.add(f.ClientID, f.UserID)
	}
}

func (t *PeopleTally) add(clientID, userID string) {
	if t.seen == nil {
		t.seen = make(map[clientPerson]struct{})
		t.counts = make(map[string]int)
	}
	pair := clientPerson{clientID, userID}
	if _, ok := t.seen[pair]; ok {
		return
	}
	t.seen[pair] = struct{}{}
	t.counts[clientID]++
}

// Counts returns the number of people per client ID, never nil; a client
// no one uses is absent.
func (t *PeopleTally) Counts() map[string]int {
	if t.counts == nil {
		return map[string]int{}
	}
	return t.counts
}
