package app_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// newMasterKey returns a fresh master key in the form GATEHOUSE_MASTER_KEY takes.
func newMasterKey() string { return secret.EncodeMasterKey(secret.RandomBytes(secret.MasterKeySize)) }

// keyID returns the public id of a master key, as Gatehouse names it.
func keyID(t *testing.T, key string) string {
	t.Helper()
	k, err := secret.ParseMasterKey(key)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secret.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr.KeyID()
}

// withEnv returns a client of s's configuration changed by overrides (""
// unsets), for commands run while s is stopped.
func withEnv(s *testServer, overrides map[string]string) *testServer {
	env := maps.Clone(s.env)
	for k, v := range overrides {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return &testServer{t: s.t, env: env, engine: s.engine}
}

// serveFails runs `gatehouse serve` with s's configuration, expecting it to
// stop at start; it returns the exit code and stderr.
func serveFails(t *testing.T, s *testServer) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var errb syncBuffer
	code := app.Run(ctx, []string{"gatehouse", "serve"}, s.getenv, s.environ(), app.IO{Stdin: strings.NewReader(""), Stdout: &errb, Stderr: &errb})
	return code, errb.String()
}

// sealedValues reads every value sealed under the master key, by kind and row.
func sealedValues(t *testing.T, s *testServer) map[string]string {
	t.Helper()
	st, err := store.Open(t.Context(), store.Options{DatabaseURL: s.env["GATEHOUSE_DATABASE_URL"], DataDir: s.env["GATEHOUSE_DATA_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string]string{}
	for kind, list := range map[string]func(context.Context, string, int) ([]secret.Stored, error){
		"signing key": st.ListSealedSigningKeys, "totp": st.ListSealedTOTP, "secret": st.ListSealedSecrets,
	} {
		vals, err := list(t.Context(), "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			out[kind+" "+v.ID] = v.Sealed
		}
	}
	return out
}

// wantNoKeyMaterial fails t when text holds a master key or a sealed value.
func wantNoKeyMaterial(t *testing.T, what, text string, keys []string, sealed map[string]string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(text, k) {
			t.Errorf("%s shows a master key:\n%s", what, text)
		}
	}
	for row, v := range sealed {
		if strings.Contains(text, v) {
			t.Errorf("%s shows the sealed value of %s:\n%s", what, row, text)
		}
	}
}

// TestMasterKeyRotate covers SPEC §2 and §14: `gatehouse master-key rotate`
// with the new key as GATEHOUSE_MASTER_KEY and the old one as
// GATEHOUSE_MASTER_KEY_PREVIOUS re-encrypts the signing keys, TOTP secrets
// and the audit chain key in one audited transaction; afterwards the new
// key alone runs everything (old tokens verify, TOTP works, the audit chain
// verifies), the old key alone is refused with what to do, and a second
// run has nothing to do. doctor reports each stage.
func TestMasterKeyRotate(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			a, b := newMasterKey(), newMasterKey()
			keys := []string{a, b}
			s := startServer(t, engine, map[string]string{"GATEHOUSE_MASTER_KEY": a})
			before := s.login("admin", adminPassword)["access_token"].(string)
			s.createUser(s.admin(), map[string]any{"username": "rita", "password": ritaPassword})
			rita := s.login("rita", ritaPassword)["access_token"].(string)
			totpSecret := s.api("POST", "/api/v1/me/mfa/totp", rita, nil).JSON(t)["secret"].(string)
			used := map[string]bool{}
			want(t, s.api("POST", "/api/v1/me/mfa/totp/confirm", rita, map[string]string{"otp": freshCode(t, totpSecret, used)}), http.StatusOK)
			// Three signing keys: the retired first one, the current and the next.
			if code, out, errOut := s.cli("signing-key", "rotate"); code != 0 {
				t.Fatalf("signing-key rotate: exit %d\n%s%s", code, out, errOut)
			}
			s.stop()
			sealed := sealedValues(t, s)
			if len(sealed) != 5 {
				t.Fatalf("sealed values before the rotation: %v", slices.Sorted(maps.Keys(sealed)))
			}

			rotating := withEnv(s, map[string]string{"GATEHOUSE_MASTER_KEY": b, "GATEHOUSE_MASTER_KEY_PREVIOUS": a})
			code, out, errOut := rotating.cli("doctor")
			if code != 0 || !strings.Contains(out, "WARN  5 value(s) still sealed under a previous master key (signing keys: 3, TOTP secrets: 1, sealed secrets: 1); run gatehouse master-key rotate") {
				t.Errorf("doctor during the rollout: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = rotating.cli("master-key", "rotate")
			wantOut := "signing keys: 3 re-encrypted, TOTP secrets: 1, sealed secrets: 1; every value is now under key " + keyID(t, b) + "\n" +
				"remove GATEHOUSE_MASTER_KEY_PREVIOUS once every instance runs with the new key\n"
			if code != 0 || out != wantOut {
				t.Fatalf("master-key rotate: exit %d\n%s%s\nwant:\n%s", code, out, errOut, wantOut)
			}
			wantNoKeyMaterial(t, "master-key rotate", out+errOut, keys, sealed)
			after := sealedValues(t, s)
			for row, v := range after {
				if secret.SealedKeyID(v) != keyID(t, b) || v == sealed[row] {
					t.Errorf("%s is not re-sealed under the new key", row)
				}
			}
			code, out, errOut = rotating.cli("doctor")
			if code != 0 || !strings.Contains(out, "WARN  GATEHOUSE_MASTER_KEY_PREVIOUS is set but no value is sealed under it any more; remove it") {
				t.Errorf("doctor after the rotation: exit %d\n%s%s", code, out, errOut)
			}

			// The new key alone.
			s = startWithEnv(t, engine, withEnv(s, map[string]string{"GATEHOUSE_MASTER_KEY": b}).env)
			oldKid := jwtHeader(t, before)["kid"].(string)
			var kids []string
			for _, k := range s.api("GET", "/.well-known/jwks.json", "", nil).JSON(t)["keys"].([]any) {
				kids = append(kids, k.(map[string]any)["kid"].(string))
			}
			if len(kids) != 3 || !slices.Contains(kids, oldKid) {
				t.Errorf("JWKS after the rotation = %v, want 3 keys with %s", kids, oldKid)
			}
			want(t, s.api("GET", "/api/v1/me", before, nil), http.StatusOK)
			admin := s.login("admin", adminPassword)["access_token"].(string) // signed with the re-sealed current key
			r := s.loginForm("rita", ritaPassword)
			if want(t, r, http.StatusForbidden); r.JSON(t)["error"] != "mfa_required" {
				t.Fatalf("rita's sign-in: %s", r.Body)
			}
			want(t, mfaGrant(s, r.JSON(t)["mfa_token"].(string), "otp", freshCode(t, totpSecret, used)), http.StatusOK)
			if code, out, errOut := s.cli("audit", "verify"); code != 0 || !strings.Contains(out, "audit chain intact") {
				t.Errorf("audit verify: exit %d\n%s%s", code, out, errOut)
			}
			events := s.audit(admin, "action=master_key.rotated")
			if len(events) != 1 {
				t.Fatalf("master_key.rotated events: %v", events)
			}
			ev, _ := json.Marshal(events[0])
			wantNoKeyMaterial(t, "the audit event", string(ev), keys, sealed)
			wantMeta := map[string]any{"key_id": keyID(t, b), "signing_keys": 3.0, "totp_secrets": 1.0, "sealed_secrets": 1.0}
			if events[0]["actor"].(map[string]any)["type"] != audit.TypeSystem || !maps.Equal(events[0]["metadata"].(map[string]any), wantMeta) {
				t.Errorf("master_key.rotated = %s", ev)
			}
			s.stop()

			// The old key alone is refused, saying what to do.
			code, errOut = serveFails(t, withEnv(s, map[string]string{"GATEHOUSE_MASTER_KEY": a}))
			if code != 1 || !strings.Contains(errOut, "sealed under master key "+keyID(t, b)) ||
				!strings.Contains(errOut, "set GATEHOUSE_MASTER_KEY to the master key it was sealed under (after `gatehouse master-key rotate`: the new key)") {
				t.Errorf("serve with the old key: exit %d\n%s", code, errOut)
			}
			wantNoKeyMaterial(t, "serve with the old key", errOut, keys, after)

			// Nothing left to do.
			code, out, errOut = rotating.cli("master-key", "rotate")
			if code != 0 || !strings.HasPrefix(out, "nothing to re-encrypt: every sealed value is already under master key "+keyID(t, b)+"\n") {
				t.Errorf("second rotate: exit %d\n%s%s", code, out, errOut)
			}
			if again := sealedValues(t, s); !maps.Equal(again, after) {
				t.Error("a rotation with nothing to do changed sealed values")
			}
		})
	}
}

// TestMasterKeyRotateStopsAtAValueOfNoKeyGiven: when one value opens under
// none of the keys given (here a TOTP secret enrolled on an instance started
// by mistake with yet another key), rotate exits 1 naming the value's kind
// and row, and nothing is changed: the values it had re-sealed before are
// rolled back. Given that key too, it succeeds.
func TestMasterKeyRotateStopsAtAValueOfNoKeyGiven(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			a, b, x := newMasterKey(), newMasterKey(), newMasterKey()
			keys := []string{a, b, x}
			s := startServer(t, engine, map[string]string{"GATEHOUSE_MASTER_KEY": a})
			u := s.createUser(s.admin(), map[string]any{"username": "rita", "password": ritaPassword})
			s.stop()
			rogue := startWithEnv(t, engine, withEnv(s, map[string]string{"GATEHOUSE_MASTER_KEY": x, "GATEHOUSE_MASTER_KEY_PREVIOUS": a}).env)
			rita := rogue.login("rita", ritaPassword)["access_token"].(string)
			want(t, rogue.api("POST", "/api/v1/me/mfa/totp", rita, nil), http.StatusOK)
			rogue.stop()
			sealed := sealedValues(t, s)

			rotating := withEnv(s, map[string]string{"GATEHOUSE_MASTER_KEY": b, "GATEHOUSE_MASTER_KEY_PREVIOUS": a})
			code, out, errOut := rotating.cli("master-key", "rotate")
			named := "TOTP secret of user " + u["id"].(string) + " is sealed under master key " + keyID(t, x) + ", which is none of the keys given"
			if code != 1 || !strings.Contains(errOut, named) || !strings.Contains(errOut, "Nothing was changed: add the master key it was sealed under to GATEHOUSE_MASTER_KEY_PREVIOUS") {
				t.Fatalf("rotate: exit %d, want 1 naming the value\n%s%s", code, out, errOut)
			}
			wantNoKeyMaterial(t, "master-key rotate", out+errOut, keys, sealed)
			if after := sealedValues(t, s); !maps.Equal(after, sealed) {
				t.Error("a failed rotation changed sealed values")
			}
			code, out, errOut = rotating.cli("doctor")
			if code != 1 || !strings.Contains(out, "FAIL  "+named) {
				t.Errorf("doctor: exit %d\n%s%s", code, out, errOut)
			}

			code, out, errOut = withEnv(rotating, map[string]string{"GATEHOUSE_MASTER_KEY_PREVIOUS": a + "," + x}).cli("master-key", "rotate")
			if code != 0 || !strings.HasPrefix(out, "signing keys: 2 re-encrypted, TOTP secrets: 1, sealed secrets: 1; ") {
				t.Fatalf("rotate with both old keys: exit %d\n%s%s", code, out, errOut)
			}
			if code, out, errOut := rotating.cli("audit", "verify"); code != 0 {
				t.Errorf("audit verify: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestMasterKeyRotateFromDevelopmentKey covers moving off the development
// key generated into the data dir: without GATEHOUSE_MASTER_KEY and a
// previous key the command explains the procedure (exit 2); following it
// works, and the new key alone serves.
func TestMasterKeyRotateFromDevelopmentKey(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	at := s.admin()
	s.stop()
	code, out, errOut := s.cli("master-key", "rotate")
	dev := filepath.Join(s.env["GATEHOUSE_DATA_DIR"], secret.DevMasterKeyFile)
	for _, w := range []string{"GATEHOUSE_MASTER_KEY, which is not set", "openssl rand -base64 32", "GATEHOUSE_MASTER_KEY_PREVIOUS_FILE=" + dev,
		"start gatehouse with GATEHOUSE_MASTER_KEY_FILE alone"} {
		if code != 2 || !strings.Contains(errOut, w) {
			t.Fatalf("rotate with the development key alone: exit %d, want 2 and %q\n%s%s", code, w, out, errOut)
		}
	}

	k := newMasterKey()
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(k+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = withEnv(s, map[string]string{"GATEHOUSE_MASTER_KEY_FILE": keyFile, "GATEHOUSE_MASTER_KEY_PREVIOUS_FILE": dev}).cli("master-key", "rotate")
	if code != 0 || !strings.HasPrefix(out, "signing keys: 2 re-encrypted, TOTP secrets: 0, sealed secrets: 1; every value is now under key "+keyID(t, k)) {
		t.Fatalf("rotate off the development key: exit %d\n%s%s", code, out, errOut)
	}
	s = startWithEnv(t, "sqlite", withEnv(s, map[string]string{"GATEHOUSE_MASTER_KEY_FILE": keyFile}).env)
	want(t, s.api("GET", "/api/v1/me", at, nil), http.StatusOK)
	s.login("admin", adminPassword)
}

// TestMasterKeyRotateNeedsADatabase: on a data dir without a database the
// command fails, says what to do and creates nothing, not even the
// development key.
func TestMasterKeyRotateNeedsADatabase(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"new key":         {"GATEHOUSE_MASTER_KEY": newMasterKey(), "GATEHOUSE_MASTER_KEY_PREVIOUS": newMasterKey()},
		"development key": {"GATEHOUSE_MASTER_KEY_PREVIOUS": newMasterKey()},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "missing")
			env["GATEHOUSE_DATA_DIR"] = dir
			s := &testServer{t: t, env: env}
			code, out, errOut := s.cli("master-key", "rotate")
			if code != 1 || !strings.Contains(errOut, "no Gatehouse database at "+filepath.Join(dir, store.SQLiteFile)) {
				t.Errorf("exit %d\n%s%s", code, out, errOut)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s was created (%v)", dir, err)
			}
		})
	}
}
