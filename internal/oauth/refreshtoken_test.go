package oauth

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/secret"
)

func TestRefreshTokenNamesItsFamily(t *testing.T) {
	sid := secret.RandomID("ses")
	for _, gen := range []int{0, 1, 17, 999_999_999} {
		tok := newRefreshToken(sid, gen)
		want := RefreshKey{Hash: secret.Hash(tok), SessionID: sid, Generation: gen}
		if got := RefreshKeyOf(tok); got != want {
			t.Fatalf("RefreshKeyOf(%q) = %+v, want %+v", tok, got, want)
		}
		prefix := sid + "_" + strconv.Itoa(gen) + "_"
		if random := strings.TrimPrefix(tok, prefix); len(random) != refreshSecretLen || !isBase64URL(random) {
			t.Fatalf("token %q: want %q and %d base64url characters", tok, prefix, refreshSecretLen)
		}
	}
	if a, b := newRefreshToken(sid, 3), newRefreshToken(sid, 3); a == b {
		t.Fatalf("two tokens of one generation are equal: %q", a)
	}
}

func TestRefreshKeyOfOtherForms(t *testing.T) {
	random := secret.Token()
	for _, tok := range []string{
		"", random, // the older form: found by hash only
		"ses_1_" + random[:42],                // random part too short
		"ses_1_" + random + "x",               // … too long
		"ses_1_" + random[:42] + "!",          // not base64url
		"ses_1-" + random,                     // no separator before it
		"_1_" + random,                        // no session
		"Ses_1_" + random, "1ses_1_" + random, // not a session id
		"ses.x_1_" + random,
		"ses_01_" + random, "ses_-1_" + random, "ses_+1_" + random, "ses__" + random, "ses_1x_" + random,
		"ses_1000000000_" + random, // generation too long
		strings.Repeat("s", maxRefreshSession+1) + "_1_" + random,
	} {
		got := RefreshKeyOf(tok)
		if want := (RefreshKey{Hash: secret.Hash(tok)}); got != want {
			t.Errorf("RefreshKeyOf(%q) = %+v, want %+v (names no family)", tok, got, want)
		}
	}
	long := strings.Repeat("s", maxRefreshSession) + "_1_" + random
	if got := RefreshKeyOf(long); got.SessionID != strings.Repeat("s", maxRefreshSession) || got.Generation != 1 {
		t.Errorf("RefreshKeyOf(session of %d characters) = %+v", maxRefreshSession, got)
	}
}

// FuzzRefreshKeyOf: a presented refresh token's key always carries its hash;
// when it names a family, the token is exactly that family's form.
func FuzzRefreshKeyOf(f *testing.F) {
	random := secret.Token()
	for _, s := range []string{"", random, "ses_0123456789abcdef0123456789abcdef_0_" + random, "ses_a_12_" + random,
		"ses_a_012_" + random, "a__" + random, "_" + random, "ses_a_1_" + random[:42] + "\x00", "ses_a_99999999999999999999_" + random} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		k := RefreshKeyOf(tok)
		if k.Hash != secret.Hash(tok) {
			t.Fatalf("RefreshKeyOf(%q).Hash is not the token's hash", tok)
		}
		if k.SessionID == "" {
			if k.Generation != 0 {
				t.Fatalf("RefreshKeyOf(%q) = %+v: a generation without a session", tok, k)
			}
			return
		}
		prefix := k.SessionID + "_" + strconv.Itoa(k.Generation) + "_"
		if !strings.HasPrefix(tok, prefix) || len(tok) != len(prefix)+refreshSecretLen || !isBase64URL(tok[len(prefix):]) ||
			k.Generation < 0 || !isSessionID(k.SessionID) {
			t.Fatalf("RefreshKeyOf(%q) = %+v: not the token's own session and generation", tok, k)
		}
	})
}
