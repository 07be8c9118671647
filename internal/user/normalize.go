package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Limits on identity fields.
const (
	MaxUsernameLen    = 64
	MaxEmailLen       = 254
	MaxDisplayNameLen = 128
)

// fold case-folds s. A cases.Caser is not safe for concurrent use, so each
// call makes its own (cheap).
func fold(s string) string { return cases.Fold().String(s) }

// NormalizeUsername returns the username as stored (NFKC) and its unique key.
// It accepts letters, digits, and . _ - @ +, 1 to 64 characters; anything
// else (spaces, controls, symbols, invisible characters) is refused, and so
// are names that mix scripts (Unicode TR39, "moderately restrictive": Latin
// may join Han, Hiragana, Katakana, Hangul or Bopomofo, nothing else mixes).
// The key is NFKC, case-folded, with the letters of other scripts that look
// like Latin letters (Cyrillic "а", Greek "ο", …) mapped to them, so a
// look-alike name collides with the account it imitates instead of
// shadowing it.
func NormalizeUsername(s string) (display, key string, err error) {
	if !utf8.ValidString(s) {
		return "", "", apperr.InvalidField("username", "must be valid UTF-8")
	}
	display = norm.NFKC.String(s)
	n := utf8.RuneCountInString(display)
	if n < 1 || n > MaxUsernameLen {
		return "", "", apperr.InvalidField("username", "must be 1 to 64 characters")
	}
	for _, r := range display {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@+", r)) {
			return "", "", apperr.InvalidField("username", "may contain only letters, digits and . _ - @ +")
		}
	}
	if mixedScripts(display) {
		return "", "", apperr.InvalidField("username", "must not mix letters of different scripts (such as Latin and Cyrillic)")
	}
	key = skeleton(norm.NFKC.String(fold(display)))
	return display, key, nil
}

// scriptsOf checks the scripts a name's letters may come from, in the order
// they are most likely.
var scriptsOf = []*unicode.RangeTable{unicode.Latin, unicode.Cyrillic, unicode.Greek, unicode.Han, unicode.Hiragana,
	unicode.Katakana, unicode.Hangul, unicode.Bopomofo, unicode.Arabic, unicode.Hebrew, unicode.Devanagari, unicode.Thai,
	unicode.Armenian, unicode.Georgian}

// cjkWithLatin are the scripts that legitimately mix with each other and Latin.
var cjkWithLatin = map[*unicode.RangeTable]bool{unicode.Latin: true, unicode.Han: true, unicode.Hiragana: true,
	unicode.Katakana: true, unicode.Hangul: true, unicode.Bopomofo: true}

func mixedScripts(name string) bool {
	seen := map[*unicode.RangeTable]bool{}
	for _, r := range name {
		if !unicode.IsLetter(r) {
			continue
		}
		found := false
		for _, t := range scriptsOf {
			if unicode.Is(t, r) {
				seen[t], found = true, true
				break
			}
		}
		if !found { // a letter of another script: it must be alone
			seen[nil] = true
		}
	}
	if len(seen) <= 1 {
		return false
	}
	for t := range seen {
		if !cjkWithLatin[t] {
			return true
		}
	}
	return false
}

// confusables maps lower-case letters of other scripts that render like a
// Latin letter to that letter (from Unicode's confusables.txt, TR39).
var confusables = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'ѐ': 'e', 'ё': 'e', 'һ': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'ӏ': 'l',
	'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'с': 'c', 'ѕ': 's', 'т': 't', 'у': 'y', 'ԝ': 'w', 'х': 'x',
	'ԁ': 'd', 'ɡ': 'g', 'ү': 'y', 'ѵ': 'v',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'χ': 'x', 'ϲ': 'c', 'ϳ': 'j', 'ω': 'w', 'γ': 'y',
	// Latin look-alikes of other Latin letters
	'ı': 'i', 'ȷ': 'j', 'ſ': 's', 'ℓ': 'l',
}

// skeleton maps every confusable letter of key to its Latin twin.
func skeleton(key string) string {
	if isASCII(key) {
		return key
	}
	return strings.Map(func(r rune) rune {
		if l, ok := confusables[r]; ok {
			return l
		}
		return r
	}, key)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// UsernameKey returns the lookup key of a username as typed at sign-in, or
// "" when it cannot be a valid username.
func UsernameKey(s string) string {
	_, k, err := NormalizeUsername(s)
	if err != nil {
		return ""
	}
	return k
}

// NormalizeEmail validates an email address and returns it with its unique
// key (lower-cased). "" is allowed and returns "", "".
func NormalizeEmail(s string) (email, key string, err error) {
	if s == "" {
		return "", "", nil
	}
	if !utf8.ValidString(s) || len(s) > MaxEmailLen {
		return "", "", apperr.InvalidField("email", "must be a valid address of at most 254 bytes")
	}
	s = norm.NFKC.String(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s, "@") {
		return "", "", apperr.InvalidField("email", "must be a plain address like name@example.com")
	}
	return s, strings.ToLower(fold(s)), nil
}

// ValidateDisplayName checks length and refuses control characters.
func ValidateDisplayName(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDisplayNameLen {
		return apperr.InvalidField("display_name", "must be at most 128 characters")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return apperr.InvalidField("display_name", "must not contain control characters")
		}
	}
	return nil
}
