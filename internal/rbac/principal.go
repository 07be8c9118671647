package rbac

import (
	"context"
	"slices"
	"time"
)

// Principal kinds.
const (
	KindUser   = "user"
	KindClient = "client"
	KindKey    = "key"
)

// Limits restrict a principal to a few endpoints (a token that exists only to
// finish a sign-in step).
const (
	LimitPasswordChange = "password_change"
	LimitMFAEnrollment  = "mfa_enrollment"
)

// Principal is who a request acts as, after authentication. Permissions are
// already the intersection of what the subject may do and what its
// credential carries (SPEC §15: a token's power).
type Principal struct {
	Kind        string // KindUser, KindClient or KindKey
	ID          string // user id, client id or key id
	UserID      string // the user behind a user token or a user-owned key
	ClientID    string
	Roles       []string
	Groups      []string
	Permissions []string // sorted
	Scopes      []string
	AMR         []string
	AuthTime    time.Time
	SessionID   string
	TokenID     string
	// Limit, when set, confines the principal to the endpoints of one step.
	Limit string
}

// Can reports whether p holds permission perm.
func (p *Principal) Can(perm string) bool {
	if p == nil || p.Limit != "" {
		return false
	}
	_, ok := slices.BinarySearch(p.Permissions, perm)
	return ok
}

// HasRole reports whether role is among p's effective roles.
func (p *Principal) HasRole(role string) bool { return p != nil && slices.Contains(p.Roles, role) }

// HasFactor reports whether p authenticated with a second factor.
func (p *Principal) HasFactor() bool {
	for _, m := range p.AMR {
		switch m {
		case "otp", "hwk", "mfa", "swk":
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx, if any.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Intersect returns the sorted permissions in both a and b. A scope list
// containing "*" keeps all of a.
func Intersect(a, b []string) []string {
	if slices.Contains(b, "*") {
		out := slices.Clone(a)
		slices.Sort(out)
		return slices.Compact(out)
	}
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
