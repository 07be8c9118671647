package secret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// ParseMasterKey decodes a base64 (standard or URL, padded or not) master key
// and checks its size.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				return nil, fmt.Errorf("master key must decode to %d bytes, got %d; generate one with: openssl rand -base64 32", MasterKeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("master key is not valid base64; generate one with: openssl rand -base64 32")
}

// ParseMasterKeys decodes a list of master keys as ParseMasterKey does,
// separated by commas or white space (one a line in a file). An empty s is
// no key. Errors say which key is wrong, never what it holds.
func ParseMasterKeys(s string) ([][]byte, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	keys := make([][]byte, 0, len(fields))
	for i, f := range fields {
		k, err := ParseMasterKey(f)
		if err != nil {
			if len(fields) > 1 {
				return nil, fmt.Errorf("key %d of %d: %w", i+1, len(fields), err)
			}
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// EncodeMasterKey returns the standard base64 form of key.
func EncodeMasterKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// DevMasterKeyFile is the name of the generated development master key in the data dir.
const DevMasterKeyFile = "master.key"

// LoadOrCreateDevMasterKey reads the development master key from dir, or
// creates it (mode 0600) when absent. created reports whether it was made now.
func LoadOrCreateDevMasterKey(dir string) (key []byte, created bool, err error) {
	path := filepath.Join(dir, DevMasterKeyFile)
	b, err := os.ReadFile(path) // #nosec G304 -- the operator's own data dir
	if err == nil {
		key, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("read master key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create data dir: %w", err)
	}
	key = RandomBytes(MasterKeySize)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator's own data dir
	if err != nil {
		return nil, false, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := f.WriteString(EncodeMasterKey(key) + "\n"); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write master key file: %w", err)
	}
	return key, true, nil
}
