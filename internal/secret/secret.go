// Package secret holds Gatehouse's secret handling: the master key and
// envelope encryption of secrets at rest, random opaque tokens, hashing of
// tokens for storage, constant-time comparison, and a Value type that never
// prints its contents.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"time"
)

// Value is a secret string. Its String, GoString, LogValue and MarshalText
// methods redact it, so it cannot leak through fmt, slog or JSON by accident.
type Value struct{ s string }

// NewValue wraps s.
func NewValue(s string) Value { return Value{s: s} }

// Reveal returns the secret itself. Call it only where the secret is used.
func (v Value) Reveal() string { return v.s }

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return v.s == "" }

const redacted = "[REDACTED]"

func (v Value) String() string {
	if v.s == "" {
		return ""
	}
	return redacted
}

// GoString redacts in %#v.
func (v Value) GoString() string { return v.String() }

// LogValue redacts in slog.
func (v Value) LogValue() slog.Value { return slog.StringValue(v.String()) }

// MarshalText redacts in JSON and other encoders.
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Token returns a URL-safe random token of 256 bits.
func Token() string { return base64.RawURLEncoding.EncodeToString(RandomBytes(32)) }

// RandomBytes returns n bytes from crypto/rand. It panics if the system's
// random source fails, as nothing secure can be done without it.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return b
}

// RandomID returns prefix + "_" + 16 random bytes in lower-case hex (128 bits),
// the shape of every opaque id (usr_…, ses_…, key_…).
func RandomID(prefix string) string {
	return prefix + "_" + hex.EncodeToString(RandomBytes(16))
}

// TimeOrderedID is RandomID whose first 6 bytes are the milliseconds since
// the Unix epoch at t (big-endian, as in a UUIDv7) and the other 10 random:
// ids made later sort after, so an index on them grows at its end instead
// of touching a random page per insert (audit events). Not for anything
// whose creation time must stay private.
func TimeOrderedID(prefix string, t time.Time) string {
	b := RandomBytes(16)
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli())) // #nosec G115 -- times after 1970
	copy(b[:6], ms[2:])
	return prefix + "_" + hex.EncodeToString(b)
}

// Hash returns the hex SHA-256 of a high-entropy token, the form in which
// refresh tokens, activation tokens, client secrets and API keys are stored.
// It is not for passwords.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Equal compares two strings in constant time (for equal lengths).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
