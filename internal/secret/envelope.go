package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MasterKeySize is the size of the master key in bytes (AES-256).
const MasterKeySize = 32

// ErrDecrypt is returned when a sealed value cannot be opened: wrong key,
// wrong associated data, or tampering. It never says which.
var ErrDecrypt = errors.New("secret: cannot decrypt sealed value")

// UnknownKeyError is the error of Open for a value sealed under a master key
// the keyring does not hold. It matches ErrDecrypt (errors.Is) and names
// master keys by their ids alone, which reveal nothing of the keys.
type UnknownKeyError struct {
	// KeyID is the id of the master key the value is sealed under.
	KeyID string
	// Held are the ids of the keyring's keys, the current one first.
	Held []string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("%v: it is sealed under master key %s, which is not among the keys given (current %s)",
		ErrDecrypt, e.KeyID, strings.Join(e.Held, ", previous "))
}

// Is makes errors.Is(err, ErrDecrypt) hold.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrDecrypt }

// Keyring performs envelope encryption: every value is encrypted under a fresh
// 256-bit data key (AES-256-GCM), and the data key is wrapped under the master
// key (AES-256-GCM). The current master key seals; older keys, when given,
// still open values sealed under them, so a master-key rotation can proceed
// row by row.
type Keyring struct {
	current keyEntry
	byID    map[string]keyEntry
	ids     []string // the ids of the keys, the current one first, each once
}

type keyEntry struct {
	id   string
	aead cipher.AEAD
}

// NewKeyring returns a keyring that seals with current and opens with current
// or any of previous. Each key must be MasterKeySize bytes.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	kr := &Keyring{byID: map[string]keyEntry{}}
	for i, k := range append([][]byte{current}, previous...) {
		e, err := newKeyEntry(k)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			kr.current = e
		}
		if _, dup := kr.byID[e.id]; !dup {
			kr.ids = append(kr.ids, e.id)
		}
		kr.byID[e.id] = e
	}
	return kr, nil
}

func newKeyEntry(key []byte) (keyEntry, error) {
	if len(key) != MasterKeySize {
		return keyEntry{}, fmt.Errorf("secret: master key must be %d bytes, got %d", MasterKeySize, len(key))
	}
	a, err := newGCM(key)
	if err != nil {
		return keyEntry{}, err
	}
	sum := sha256.Sum256(append([]byte("gatehouse master key id\x00"), key...))
	return keyEntry{id: hex.EncodeToString(sum[:4]), aead: a}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return cipher.NewGCM(block)
}

// KeyID returns the short public identifier of the current master key.
func (kr *Keyring) KeyID() string { return kr.current.id }

const sealPrefix = "gh1"

// Seal encrypts plaintext. ad (associated data) binds the ciphertext to its
// purpose, e.g. "signing_key:<kid>"; Open must be given the same ad.
// The result is printable: gh1.<master key id>.<wrapped data key>.<ciphertext>.
func (kr *Keyring) Seal(plaintext []byte, ad string) (string, error) {
	dek := RandomBytes(32)
	wrapped := sealGCM(kr.current.aead, dek, []byte("gatehouse dek\x00"+ad))
	dataAEAD, err := newGCM(dek)
	if err != nil {
		return "", err
	}
	ct := sealGCM(dataAEAD, plaintext, []byte(ad))
	enc := base64.RawURLEncoding
	return strings.Join([]string{sealPrefix, kr.current.id, enc.EncodeToString(wrapped), enc.EncodeToString(ct)}, "."), nil
}

// Open decrypts a value made by Seal with the same ad.
func (kr *Keyring) Open(sealed, ad string) ([]byte, error) {
	parts := strings.Split(sealed, ".")
	if len(parts) != 4 || parts[0] != sealPrefix {
		return nil, ErrDecrypt
	}
	e, ok := kr.byID[parts[1]]
	if !ok {
		return nil, &UnknownKeyError{KeyID: parts[1], Held: kr.ids}
	}
	enc := base64.RawURLEncoding
	wrapped, err1 := enc.DecodeString(parts[2])
	ct, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return nil, ErrDecrypt
	}
	dek, err := openGCM(e.aead, wrapped, []byte("gatehouse dek\x00"+ad))
	if err != nil {
		return nil, ErrDecrypt
	}
	dataAEAD, err := newGCM(dek)
	if err != nil {
		return nil, ErrDecrypt
	}
	pt, err := openGCM(dataAEAD, ct, []byte(ad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// SealedKeyID returns the id of the master key sealed names, or "" when it
// is not a sealed value.
func SealedKeyID(sealed string) string {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) < 3 || parts[0] != sealPrefix {
		return ""
	}
	return parts[1]
}

// NeedsRewrap reports whether sealed was made under a master key other than
// the current one.
func (kr *Keyring) NeedsRewrap(sealed string) bool {
	parts := strings.SplitN(sealed, ".", 3)
	return len(parts) < 2 || parts[1] != kr.current.id
}

// Rewrap re-encrypts sealed under the current master key.
func (kr *Keyring) Rewrap(sealed, ad string) (string, error) {
	pt, err := kr.Open(sealed, ad)
	if err != nil {
		return "", err
	}
	return kr.Seal(pt, ad)
}

// SealWithKey encrypts plaintext under a 32-byte key (AES-256-GCM) with ad.
// It serves values kept under a key derived from something the client holds,
// such as the successor of a rotated refresh token.
func SealWithKey(key, plaintext []byte, ad string) ([]byte, error) {
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return sealGCM(a, plaintext, []byte(ad)), nil
}

// OpenWithKey decrypts a value made by SealWithKey.
func OpenWithKey(key, sealed []byte, ad string) ([]byte, error) {
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := openGCM(a, sealed, []byte(ad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func sealGCM(a cipher.AEAD, pt, ad []byte) []byte {
	nonce := RandomBytes(a.NonceSize())
	return a.Seal(nonce, nonce, pt, ad)
}

func openGCM(a cipher.AEAD, ct, ad []byte) ([]byte, error) {
	n := a.NonceSize()
	if len(ct) < n+a.Overhead() {
		return nil, ErrDecrypt
	}
	return a.Open(nil, ct[:n], ct[n:], ad)
}
