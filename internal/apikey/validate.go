package apikey

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

// Bounds of a new key's fields.
const (
	MaxNameLen       = 128
	MinExpiresIn     = time.Minute
	MaxExpiresIn     = 10 * 365 * 24 * time.Hour
	MinWindow        = time.Second
	MaxWindow        = 30 * 24 * time.Hour
	MaxRateLimit     = 1_000_000_000
	MaxQuota         = 1_000_000_000_000
	MaxPermissions   = 256
	MaxMetadata      = 16
	MaxMetaKeyLen    = 64
	MaxMetaValueLen  = 256
	maxListedInError = 8
)

// validate checks in and returns the key it describes (without id, secret
// or times). Every problem is reported at once, as per-field errors.
func (s *Service) validate(ctx context.Context, in NewKey) (*Key, error) {
	f := map[string]string{}
	if n := utf8.RuneCountInString(in.Name); n == 0 || n > MaxNameLen || !printable(in.Name) || strings.TrimSpace(in.Name) == "" {
		f["name"] = "must be 1-128 printable characters"
	}
	prefix := in.Prefix
	if prefix == "" {
		prefix = s.opts.DefaultPrefix
	} else if !ValidPrefix(prefix) {
		f["prefix"] = prefixRule
	}
	if in.ExpiresIn != 0 && (in.ExpiresIn < MinExpiresIn || in.ExpiresIn > MaxExpiresIn) {
		f["expires_in"] = "must be at least 1m and at most 87600h (10 years), or absent for no expiry"
	}
	if r := in.RateLimit; r != nil {
		if r.Limit < 1 || r.Limit > MaxRateLimit {
			f["ratelimit.limit"] = "must be between 1 and 1000000000"
		}
		if r.Window < MinWindow || r.Window > MaxWindow {
			f["ratelimit.window"] = "must be between 1s and 720h (30 days)"
		}
	}
	if in.Quota != nil && (*in.Quota < 1 || *in.Quota > MaxQuota) {
		f["quota"] = "must be between 1 and 1000000000000, or absent for no quota"
	}
	if msg := checkMetadata(in.Metadata); msg != "" {
		f["metadata"] = msg
	}
	perms := slices.Clone(in.Permissions)
	slices.Sort(perms)
	perms = slices.Compact(perms)
	if len(perms) == 0 {
		perms = nil
	}
	if msg := checkPermissionSyntax(perms); msg != "" {
		f["permissions"] = msg
	}
	if in.OwnerID == "" {
		f["owner_id"] = "is required"
	} else {
		owned, active, err := s.owners.Owner(ctx, in.OwnerID)
		switch {
		case apperr.Is(err, apperr.KindNotFound):
			f["owner_id"] = "no such user"
		case err != nil:
			return nil, err
		case !active:
			f["owner_id"] = "the owner is not active; only active users may hold keys"
		case f["permissions"] == "":
			if extra := beyond(perms, owned); len(extra) > 0 {
				f["permissions"] = "exceeds the owner's permissions: " + listed(extra)
			}
		}
	}
	if len(f) > 0 {
		return nil, &apperr.Error{Kind: apperr.KindInvalid, Code: apperr.CodeValidationFailed,
			Detail: "the request has invalid fields", Fields: f}
	}
	var meta map[string]string
	if len(in.Metadata) > 0 {
		meta = make(map[string]string, len(in.Metadata))
		for k, v := range in.Metadata {
			meta[k] = v
		}
	}
	return &Key{Name: in.Name, Prefix: prefix, OwnerID: in.OwnerID, Permissions: perms, Metadata: meta,
		RateLimit: clonePtr(in.RateLimit), Quota: clonePtr(in.Quota)}, nil
}

func checkPermissionSyntax(perms []string) string {
	if len(perms) > MaxPermissions {
		return "at most " + strconv.Itoa(MaxPermissions) + " permissions"
	}
	var bad []string
	for _, p := range perms {
		if !rbac.ValidPermission(p) {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		return "not of the form resource:action: " + listed(bad)
	}
	return ""
}

func checkMetadata(m map[string]string) string {
	if len(m) > MaxMetadata {
		return "at most 16 entries"
	}
	for k, v := range m {
		if k == "" || len(k) > MaxMetaKeyLen || !printable(k) {
			return "keys must be 1-64 printable characters"
		}
		if len(v) > MaxMetaValueLen || !printable(v) {
			return "values must be at most 256 printable characters"
		}
	}
	return ""
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// beyond returns the permissions of want that have does not hold.
func beyond(want, have []string) []string {
	var out []string
	for _, p := range want {
		if !slices.Contains(have, p) {
			out = append(out, p)
		}
	}
	return out
}

// listed quotes the first few of l for an error message.
func listed(l []string) string {
	var b strings.Builder
	for i, p := range l {
		if i == maxListedInError {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(p) > 64 {
			p = p[:64] + "…"
		}
		b.WriteString(strconv.Quote(p))
	}
	return b.String()
}

// intersect returns the sorted permissions of key that owner also holds.
func intersect(key, owner []string) []string {
	var out []string
	for _, p := range key {
		if slices.Contains(owner, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
