package audit

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// ActionHeadAuthenticated is the event the recorder appends when it first
// writes a MAC over a head that had none: on a new chain it is the first
// event; on a database upgraded from before heads carried a MAC it marks the
// upgrade. Verify requires a valid head MAC whenever the chain holds it, so
// blanking the MAC does not turn the check off (decisions.md #30).
const ActionHeadAuthenticated = "audit.head_authenticated"

// headKeyLabel separates the head's MAC key from the chain key it is derived
// from, and names the version of the construction.
const headKeyLabel = "gatehouse audit head v1"

// headKey derives the key of head MACs from the audit chain key with HKDF-SHA256.
func headKey(chainKey []byte) ([]byte, error) {
	if len(chainKey) < 16 {
		return nil, fmt.Errorf("audit: chain key of %d bytes; it must be at least 16", len(chainKey))
	}
	return hkdf.Key(sha256.New, chainKey, nil, headKeyLabel, sha256.Size)
}

// headMAC returns the hex HMAC-SHA256 under hk of the head (seq, hash),
// encoded without ambiguity: seq as 8 bytes big-endian, the length of hash
// as 8 bytes big-endian, then hash.
func headMAC(hk []byte, seq int64, hash string) string {
	msg := make([]byte, 0, 16+len(hash))
	msg = binary.BigEndian.AppendUint64(msg, uint64(seq)) // #nosec G115 -- the bits as they are; seqs are never negative
	msg = binary.BigEndian.AppendUint64(msg, uint64(len(hash)))
	msg = append(msg, hash...)
	mac := hmac.New(sha256.New, hk)
	mac.Write(msg)
	return hex.EncodeToString(mac.Sum(nil))
}

// HeadMAC returns the MAC of the chain head (seq, hash): the hex
// HMAC-SHA256, under a key derived from the audit chain key by HKDF-SHA256
// with the label "gatehouse audit head v1", of seq and hash encoded as
// headMAC says. Without it, someone who can write the database could delete
// the newest events and move the head back to the last one left.
func HeadMAC(chainKey []byte, seq int64, hash string) (string, error) {
	hk, err := headKey(chainKey)
	if err != nil {
		return "", err
	}
	return headMAC(hk, seq, hash), nil
}
