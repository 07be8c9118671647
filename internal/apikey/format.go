package apikey

import (
	"crypto/rand"
	"hash/crc32"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// The key format (SPEC §8):
//
//	<prefix>_<random><checksum>
//
// random is 256 bits from crypto/rand as 43 base62 characters (big-endian,
// left-padded with '0'); checksum is the CRC-32 (IEEE) of the bytes
// "<prefix>_<random>" as 6 base62 characters, left-padded with '0'. The
// alphabet is 0-9A-Za-z. The prefix is lower-case letters and digits with at
// most one underscore ("gk", "kx_live"), so the last underscore always ends
// the prefix. A secret scanner finds keys with the regular expression
// [a-z][a-z0-9]{0,15}(_[a-z0-9]{1,16})?_[0-9A-Za-z]{49} and confirms them by
// the checksum.
const (
	// DefaultPrefix is the prefix of keys created without one.
	DefaultPrefix = "gk"
	randomLen     = 43
	checksumLen   = 6
	bodyLen       = randomLen + checksumLen
	maxPrefixLen  = 33
	// MaxLen is the length of the longest well-formed key.
	MaxLen = maxPrefixLen + 1 + bodyLen
	// hintLen is how many characters of the random part the hint shows.
	hintLen = 4
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// prefixRE is the form of a prefix: a lower-case letter, then up to 15
// lower-case letters or digits, then optionally "_" and 1-16 more.
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}(_[a-z0-9]{1,16})?$`)

const prefixRule = "must be a lower-case letter, up to 15 more lower-case letters or digits, and optionally _ and 1-16 lower-case letters or digits (e.g. gk, kx_live)"

// ValidPrefix reports whether p may prefix a key.
func ValidPrefix(p string) bool { return len(p) <= maxPrefixLen && prefixRE.MatchString(p) }

// Generate returns a new key with prefix, which must be valid. The random
// part comes from crypto/rand; it panics if that fails.
func Generate(prefix string) (string, error) {
	if !ValidPrefix(prefix) {
		return "", apperr.InvalidField("prefix", prefixRule)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("apikey: crypto/rand failed: " + err.Error())
	}
	out := make([]byte, 0, len(prefix)+1+bodyLen)
	out = append(out, prefix...)
	out = append(out, '_')
	out = appendBase62(out, b)
	sum := checksum(string(out))
	out = appendChecksum(out, sum)
	return string(out), nil
}

// Parse checks raw's form and checksum without touching storage and returns
// its prefix and random part; ErrMalformed for anything else.
func Parse(raw string) (prefix, random string, err error) {
	if len(raw) > MaxLen || len(raw) < 2+bodyLen {
		return "", "", ErrMalformed
	}
	cut := len(raw) - bodyLen - 1
	if raw[cut] != '_' {
		return "", "", ErrMalformed
	}
	prefix, body := raw[:cut], raw[cut+1:]
	if !validPrefixFast(prefix) {
		return "", "", ErrMalformed
	}
	var want uint64
	for i := 0; i < len(body); i++ {
		d := digit(body[i])
		if d < 0 {
			return "", "", ErrMalformed
		}
		if i >= randomLen {
			want = want*62 + uint64(d)
		}
	}
	if uint64(checksum(raw[:len(raw)-checksumLen])) != want {
		return "", "", ErrMalformed
	}
	return prefix, body[:randomLen], nil
}

// Hint returns the visible hint of a key: its prefix, "_", and the first
// four characters of its random part. raw must be well-formed.
func Hint(raw string) string {
	prefix, random, err := Parse(raw)
	if err != nil {
		return ""
	}
	return prefix + "_" + random[:hintLen]
}

// validPrefixFast is ValidPrefix without the regexp, for the hot path.
func validPrefixFast(p string) bool {
	if len(p) == 0 || len(p) > maxPrefixLen || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	head, tail, two := strings.Cut(p, "_")
	if len(head) > 16 || !lowerAlnum(head) {
		return false
	}
	return !two || (len(tail) >= 1 && len(tail) <= 16 && lowerAlnum(tail))
}

func lowerAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// digit returns the base62 value of c, or -1.
func digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}

// checksum is CRC-32 (IEEE) of s, computed over the string's bytes without
// converting it (no allocation on the hot path).
func checksum(s string) uint32 {
	tab := crc32.IEEETable
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = tab[byte(crc)^s[i]] ^ (crc >> 8) // #nosec G115 -- byte() keeps the low 8 bits on purpose
	}
	return ^crc
}

// appendChecksum appends sum as 6 base62 digits (62^6 > 2^32).
func appendChecksum(out []byte, sum uint32) []byte {
	var d [checksumLen]byte
	v := uint64(sum)
	for i := checksumLen - 1; i >= 0; i-- {
		d[i] = base62[v%62]
		v /= 62
	}
	return append(out, d[:]...)
}

// appendBase62 appends the 256-bit big-endian number b as 43 base62 digits.
func appendBase62(out []byte, b [32]byte) []byte {
	// Repeated division of the number, kept as eight 32-bit limbs.
	var limbs [8]uint32
	for i := range limbs {
		limbs[i] = uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
	}
	var d [randomLen]byte
	for i := randomLen - 1; i >= 0; i-- {
		var rem uint64
		for j := range limbs {
			cur := rem<<32 | uint64(limbs[j])
			limbs[j] = uint32(cur / 62) // #nosec G115 -- rem < 62, so cur/62 < 2^32
			rem = cur % 62
		}
		d[i] = base62[rem]
	}
	return append(out, d[:]...)
}
