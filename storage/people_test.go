package storage

import (
	"reflect"
	"testing"
	"time"
)

func TestPeopleTally(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	granted := func(user, client string) Consent {
		return Consent{UserID: user, ClientID: client, Scopes: []string{"openid"}}
	}
	live := func(user, client string) RefreshFamily {
		return RefreshFamily{UserID: user, ClientID: client, ExpiresAt: now.Add(time.Hour)}
	}
	tests := []struct {
		name     string
		consents []Consent
		families []RefreshFamily
		want     map[string]int
	}{
		{"nothing", nil, nil, map[string]int{}},
		{"a standing consent", []Consent{granted("ivy", "app")}, nil, map[string]int{"app": 1}},
		{"a withdrawn consent", []Consent{granted("ivy", "app").Withdrawn(now)}, nil, map[string]int{}},
		{"a live family", nil, []RefreshFamily{live("ivy", "app")}, map[string]int{"app": 1}},
		{"a family at its end", nil, []RefreshFamily{{UserID: "ivy", ClientID: "app", ExpiresAt: now}}, map[string]int{}},
		{"a replayed family", nil, []RefreshFamily{{UserID: "ivy", ClientID: "app", ExpiresAt: now.Add(time.Hour), ReplayedAt: now}}, map[string]int{}},
		{"a consent and two families of one person", []Consent{granted("ivy", "app")},
			[]RefreshFamily{live("ivy", "app"), live("ivy", "app")}, map[string]int{"app": 1}},
		{"two people, two clients", []Consent{granted("ivy", "app"), granted("jon", "app"), granted("ivy", "cli")},
			[]RefreshFamily{live("kim", "cli")}, map[string]int{"app": 2, "cli": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tally PeopleTally
			for _, c := range tt.consents {
				tally.Consent(c)
			}
			for _, f := range tt.families {
				tally.Family(f, now)
			}
			if got := tally.Counts(); got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Counts() = %v, want %v", got, tt.want)
			}
		})
	}
}
