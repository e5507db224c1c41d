package admin

import "context"

// DefaultActor names the caller in audit lines when the mounting code did
// not: the API on Caddy's admin endpoint, trusted like the rest of it.
const DefaultActor = "admin_endpoint"

// actorKey is the context key of the actor.
type actorKey struct{}

// WithActor returns ctx carrying the name of whoever makes the request (for
// remote admin, the owner client's ID), for the audit log.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor set by WithActor, or DefaultActor.
func ActorFrom(ctx context.Context) string {
	if actor, ok := ctx.Value(actorKey{}).(string); ok && actor != "" {
		return actor
	}
	return DefaultActor
}
