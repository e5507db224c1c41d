package authserver

import (
	"encoding/json"
	"net/http"
	"time"
)

// Health statuses, from best to worst.
const (
	HealthOK       = "ok"       // serving from a store that is current
	HealthDegraded = "degraded" // serving from a shared store's copy that may be behind
	HealthStale    = "stale"    // refusing guarded and token requests: the copy is older than max_stale
	HealthStarting = "starting" // refusing requests: the store is not open yet
)

// HealthReport is the gateway's answer to a health check.
type HealthReport struct {
	Status string      `json:"status"`
	Store  StoreHealth `json:"store"`
}

// StoreHealth describes the store behind the gateway. A store that is not
// shared reports only its backend.
type StoreHealth struct {
	Backend     string    `json:"backend"`
	Revision    int64     `json:"revision,omitempty"`
	LastContact time.Time `json:"last_contact,omitzero"`
	// AgeSeconds is how long ago the shared store's engine was last heard
	// from.
	AgeSeconds float64 `json:"age_seconds,omitempty"`
	Lists      int     `json:"lists,omitempty"`
	LastError  string  `json:"last_error,omitempty"`
}

// Health reports whether the server can serve, and from what.
func (s *Server) Health() HealthReport {
	rep := HealthReport{Status: HealthOK, Store: StoreHealth{Backend: s.StoreBackend}}
	select {
	case <-s.opened:
	default:
		rep.Status = HealthStarting
	}
	st := s.sharedStore()
	if st == nil {
		return rep
	}
	h := st.Health()
	rep.Store.Revision, rep.Store.LastContact, rep.Store.Lists, rep.Store.LastError = h.Revision, h.LastContact, h.Lists, h.LastError
	if !h.LastContact.IsZero() {
		rep.Store.AgeSeconds = s.Now().Sub(h.LastContact).Seconds()
	}
	switch {
	case rep.Status == HealthStarting:
	case s.MaxStale > 0 && s.Now().Sub(h.LastContact) > s.MaxStale:
		rep.Status = HealthStale
	case h.Degraded:
		rep.Status = HealthDegraded
	}
	return rep
}

// ServeHealth answers a health check with the report as JSON: 200 while
// the gateway serves (ok or degraded), 503 while it refuses (starting or
// stale), so that a load balancer can take it out of rotation.
func (s *Server) ServeHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	rep := s.Health()
	status := http.StatusOK
	if rep.Status == HealthStale || rep.Status == HealthStarting {
		status = http.StatusServiceUnavailable
	}
	body, _ := json.Marshal(rep)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
