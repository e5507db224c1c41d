package registry

import (
	"context"
	"slices"
)

// Caller says who asks the registry for a change, where a rule depends on
// who asks. The zero Caller is a remote one that is not the operator: a
// right the operator alone has must be stated, never assumed.
type Caller struct {
	// Operator is Caddy's admin endpoint (and the CLI, which calls it),
	// trusted like the rest of Caddy's admin API. Only the operator may
	// assign FeatureMetadata.
	Operator bool
	// KeepsUpdatedAt leaves a user's updated_at as it was when the change
	// is made: changes by a client with FeatureMetadata.
	KeepsUpdatedAt bool
}

// callerKey is the context key of the Caller.
type callerKey struct{}

// WithCaller returns ctx carrying c, for the registry calls made with it.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the Caller set by WithCaller, or the zero Caller.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// ClientCaller is the Caller of a remote admin client with these features:
// never the operator; its changes to users keep updated_at when it holds
// FeatureMetadata.
func ClientCaller(features []string) Caller {
	return Caller{KeepsUpdatedAt: slices.Contains(features, FeatureMetadata)}
}
