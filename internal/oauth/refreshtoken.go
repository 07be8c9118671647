package oauth

import (
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/secret"
)

// A refresh token names its family (decisions.md #24):
//
//	<session id>_<generation>_<43 base64url characters: 256 random bits>
//
// for example ses_3f0c…a9_12_q0Vx…. Clients treat it as opaque. The session
// and generation locate the token's row by its primary key; the stored hash of
// the whole token is what proves it, compared in constant time, so naming a
// session and a generation proves nothing. Tokens issued before this form are
// the random part alone and are found by their hash.

// RefreshKey is how the store finds a presented refresh token: its hash, and
// the session and generation the token names. SessionID is "" for a token
// that names none (issued before tokens did, or not a refresh token at all),
// which is looked up by Hash alone.
type RefreshKey struct {
	Hash       string
	SessionID  string
	Generation int
}

const (
	refreshSecretLen  = 43 // base64url, unpadded, of 32 random bytes
	maxRefreshSession = 64
	maxRefreshGenLen  = 9 // generations below 10^9: a rotation a second for 31 years
)

// newRefreshToken issues the token of the session's given generation.
func newRefreshToken(sessionID string, generation int) string {
	return sessionID + "_" + strconv.Itoa(generation) + "_" + secret.Token()
}

// RefreshKeyOf returns the key of a presented token. It never fails: a token
// whose form does not name a family gets a key with no SessionID, and is
// then simply not found unless it is a stored token of the older form.
func RefreshKeyOf(token string) RefreshKey {
	k := RefreshKey{Hash: secret.Hash(token)}
	rest, random, ok := cutTail(token, refreshSecretLen)
	if !ok || !isBase64URL(random) {
		return k
	}
	i := strings.LastIndexByte(rest, '_')
	if i < 1 || i > maxRefreshSession {
		return k
	}
	sid, digits := rest[:i], rest[i+1:]
	gen, ok := parseGeneration(digits)
	if !ok || !isSessionID(sid) {
		return k
	}
	k.SessionID, k.Generation = sid, gen
	return k
}

// cutTail splits token before its last n characters, which must follow an
// underscore: "<rest>_<tail>".
func cutTail(token string, n int) (rest, tail string, ok bool) {
	if len(token) < n+2 || token[len(token)-n-1] != '_' {
		return "", "", false
	}
	return token[:len(token)-n-1], token[len(token)-n:], true
}

// parseGeneration reads a canonical decimal: digits only, no sign, no
// leading zero, at most maxRefreshGenLen of them.
func parseGeneration(s string) (int, bool) {
	if len(s) > maxRefreshGenLen {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == s
}

// isSessionID accepts what sessions are named: a lower-case letter, then
// lower-case letters, digits and underscores.
func isSessionID(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
