package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// maxKeyCacheEntries bounds the API-key cache; when full it is cleared.
const maxKeyCacheEntries = 10000

// KeyResult is the answer of Gatehouse's key verification
// (POST /api/v1/keys/verify).
type KeyResult struct {
	// Valid reports whether the key may be used now with the requested
	// permissions.
	Valid bool
	// Code says why a key is not valid: NOT_FOUND, MALFORMED, EXPIRED,
	// REVOKED, SUSPENDED, RATE_LIMITED, USAGE_EXCEEDED or
	// INSUFFICIENT_PERMISSIONS. It is empty when Valid.
	Code string
	// KeyID and OwnerID identify a valid key and the user owning it.
	KeyID, OwnerID string
	// Permissions are the key's effective permissions (those its owner
	// still holds).
	Permissions []string
}

type cachedKey struct {
	res     KeyResult
	expires time.Time
}

// VerifyAPIKey asks Gatehouse whether key is valid and holds every one of
// permissions. A well-formed answer is returned as a KeyResult whatever its
// validity; an error means Gatehouse could not be asked or answered
// something other than 200 (for example 429 when this address sent too many
// failing keys).
//
// With [Config.KeyCacheTTL] > 0, positive answers are cached under the
// SHA-256 of the key (the key itself is never kept) and reused while they
// hold every requested permission; negative answers are never cached.
func (v *Verifier) VerifyAPIKey(ctx context.Context, key string, permissions ...string) (*KeyResult, error) {
	var h [32]byte
	if v.keyTTL > 0 {
		h = sha256.Sum256([]byte(key))
		if r, ok := v.cachedKey(h, permissions); ok {
			return r, nil
		}
	}
	if permissions == nil {
		permissions = []string{}
	}
	body, err := json.Marshal(struct {
		Key         string   `json:"key"`
		Permissions []string `json:"permissions"`
	}{key, permissions})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.verifyURI, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sdk: verify key: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sdk: verify key: status %d", resp.StatusCode)
	}
	var out struct {
		Valid       bool     `json:"valid"`
		Code        string   `json:"code"`
		KeyID       string   `json:"key_id"`
		OwnerID     string   `json:"owner_id"`
		Permissions []string `json:"permissions"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocBytes)).Decode(&out); err != nil {
		return nil, fmt.Errorf("sdk: verify key: %w", err)
	}
	r := &KeyResult{Valid: out.Valid, Code: out.Code, KeyID: out.KeyID, OwnerID: out.OwnerID, Permissions: out.Permissions}
	if r.Valid && v.keyTTL > 0 {
		v.cacheMu.Lock()
		if len(v.cache) >= maxKeyCacheEntries {
			clear(v.cache)
		}
		v.cache[h] = cachedKey{res: *r, expires: v.now().Add(v.keyTTL)}
		v.cacheMu.Unlock()
	}
	return r, nil
}

// cachedKey returns a copy of a cached positive answer that has not expired
// and holds every permission in perms.
func (v *Verifier) cachedKey(h [32]byte, perms []string) (*KeyResult, bool) {
	v.cacheMu.Lock()
	c, ok := v.cache[h]
	if ok && !v.now().Before(c.expires) {
		delete(v.cache, h)
		ok = false
	}
	v.cacheMu.Unlock()
	if !ok {
		return nil, false
	}
	for _, p := range perms {
		if !slices.Contains(c.res.Permissions, p) {
			return nil, false // let Gatehouse give the authoritative answer
		}
	}
	r := c.res
	r.Permissions = slices.Clone(r.Permissions)
	return &r, true
}
