package app_test

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// oathtool computes a TOTP code with Debian's oathtool, an implementation
// independent of Gatehouse's; at is the time (zero: now).
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	args := []string{"--totp", "-b", secret}
	if !at.IsZero() {
		args = append(args, "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	out, err := exec.Command("oathtool", args...).Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("oathtool is needed in CI: %v", err)
		}
		t.Skipf("oathtool not installed: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// freshCode returns a code of a TOTP step not used yet: the current step,
// else the next one (accepted with the ±1 step of clock skew), else it waits.
func freshCode(t *testing.T, secret string, used map[string]bool) string {
	t.Helper()
	for i := 0; i < 40; i++ {
		for _, at := range []time.Time{time.Now(), time.Now().Add(30 * time.Second)} {
			if c := oathtool(t, secret, at); !used[c] {
				used[c] = true
				return c
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatal("no fresh TOTP step within 40s")
	return ""
}

func mfaGrant(s *testServer, mfaToken string, kv ...string) response {
	v := url.Values{"grant_type": {"urn:gatehouse:grant-type:mfa-otp"}, "mfa_token": {mfaToken}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return s.form("/oauth2/token", "", v)
}

// TestAdminMFAEnrolmentAndGrant covers SPEC §5, §6 and §15 for the default
// MFA_REQUIRED_ROLES=admin: the bootstrap admin enrols on first sign-in with
// the mfa_token of mfa_enrollment_required, then signs in with the MFA grant
// (codes from oathtool), replays and wrong codes are refused, recovery codes
// are single use, and only a token with a second factor reaches admin routes.
func TestAdminMFAEnrolmentAndGrant(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, map[string]string{"GATEHOUSE_MFA_REQUIRED_ROLES": "admin"})
			r := s.loginForm("admin", adminPassword)
			want(t, r, http.StatusForbidden)
			body := r.JSON(t)
			if body["error"] != "mfa_enrollment_required" || body["mfa_token"] == nil {
				t.Fatalf("first sign-in: %v", body)
			}
			enrolTok := body["mfa_token"].(string)
			// The enrolment token opens only the enrolment endpoints.
			want(t, s.api("GET", "/api/v1/users", enrolTok, nil), http.StatusUnauthorized)
			want(t, mfaGrant(s, enrolTok, "otp", "123456"), http.StatusBadRequest)

			r = s.api("POST", "/api/v1/me/mfa/totp", enrolTok, nil)
			want(t, r, http.StatusOK)
			en := r.JSON(t)
			secret := en["secret"].(string)
			if !strings.HasPrefix(en["otpauth_uri"].(string), "otpauth://totp/") || len(en["qr_png"].(string)) < 100 {
				t.Fatalf("enrolment %v", en)
			}
			want(t, s.api("POST", "/api/v1/me/mfa/totp/confirm", enrolTok, map[string]string{"otp": "000000"}), http.StatusUnprocessableEntity)
			used := map[string]bool{}
			r = s.api("POST", "/api/v1/me/mfa/totp/confirm", enrolTok, map[string]string{"otp": freshCode(t, secret, used)})
			want(t, r, http.StatusOK)
			recovery := strSlice(r.JSON(t)["recovery_codes"])
			if len(recovery) != 10 {
				t.Fatalf("want 10 recovery codes, got %v", recovery)
			}

			// Now the password grant asks for the second factor.
			r = s.loginForm("admin", adminPassword)
			want(t, r, http.StatusForbidden)
			body = r.JSON(t)
			if body["error"] != "mfa_required" {
				t.Fatalf("after enrolment: %v", body)
			}
			mt := body["mfa_token"].(string)
			for _, bad := range []string{"12345", "1234567", "abcdef", "１２３４５６", "000000"} {
				want(t, mfaGrant(s, mt, "otp", bad), http.StatusBadRequest)
			}
			r = mfaGrant(s, mt, "otp", freshCode(t, secret, used))
			want(t, r, http.StatusOK)
			tok := r.JSON(t)
			at := tok["access_token"].(string)
			if amr := strSlice(jwtClaims(t, at)["amr"]); !contains(amr, "otp") || !contains(amr, "pwd") {
				t.Fatalf("amr %v", amr)
			}
			want(t, s.api("GET", "/api/v1/users", at, nil), http.StatusOK)
			// The mfa_token is spent.
			want(t, mfaGrant(s, mt, "otp", oathtool(t, secret, time.Time{})), http.StatusBadRequest)

			// A recovery code works once.
			mt = s.loginForm("admin", adminPassword).JSON(t)["mfa_token"].(string)
			want(t, mfaGrant(s, mt, "recovery_code", recovery[0]), http.StatusOK)
			mt = s.loginForm("admin", adminPassword).JSON(t)["mfa_token"].(string)
			want(t, mfaGrant(s, mt, "recovery_code", recovery[0]), http.StatusBadRequest)

			events := s.audit(at, "action=auth.mfa.verify&limit=100")
			var ok, failed int
			for _, e := range events {
				if e["outcome"] == "success" {
					ok++
				} else {
					failed++
				}
			}
			if ok < 2 || failed < 3 {
				t.Fatalf("auth.mfa.verify events: %d success, %d failure", ok, failed)
			}
			if ev := s.audit(at, "action=auth.mfa.enroll"); len(ev) == 0 {
				t.Fatal("no auth.mfa.enroll event")
			}
		})
	}
}

// TestAdminRoutesNeedSecondFactor: with MFA required for admins, an admin
// token without otp in amr is refused on admin routes.
func TestAdminRoutesNeedSecondFactor(t *testing.T) {
	// Sign in while MFA is off, then restart with it on: the old token lacks otp.
	s := startServer(t, "sqlite", nil)
	at := s.admin()
	s.stop()
	env := s.env
	env["GATEHOUSE_MFA_REQUIRED_ROLES"] = "admin"
	s2 := startWithEnv(t, "sqlite", env)
	r := s2.api("GET", "/api/v1/users", at, nil)
	wantProblem(t, r, http.StatusForbidden, "mfa_required")
	want(t, s2.api("GET", "/api/v1/me", at, nil), http.StatusOK)
}

// TestMFALockoutAndReset: wrong codes count towards the MFA lockout (apart
// from password failures); an admin reset removes MFA and ends sessions.
func TestMFALockoutAndReset(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	u := s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword})
	rita := s.login("rita", ritaPassword)["access_token"].(string)
	secret := s.api("POST", "/api/v1/me/mfa/totp", rita, nil).JSON(t)["secret"].(string)
	used := map[string]bool{}
	want(t, s.api("POST", "/api/v1/me/mfa/totp/confirm", rita, map[string]string{"otp": freshCode(t, secret, used)}), http.StatusOK)
	if got := s.api("GET", "/api/v1/users/"+u["id"].(string), admin, nil).JSON(t)["mfa"].(map[string]any)["totp"]; got != true {
		t.Fatalf("mfa.totp = %v", got)
	}
	for i := 0; i < 5; i++ {
		mt := s.loginForm("rita", ritaPassword).JSON(t)["mfa_token"].(string)
		want(t, mfaGrant(s, mt, "otp", "000000"), http.StatusBadRequest)
	}
	mt := s.loginForm("rita", ritaPassword).JSON(t)["mfa_token"]
	if mt != nil {
		// The password is right but the second factor is locked: the right code fails too.
		want(t, mfaGrant(s, mt.(string), "otp", freshCode(t, secret, used)), http.StatusBadRequest)
	}
	if st := s.api("GET", "/api/v1/users/"+u["id"].(string), admin, nil).JSON(t)["status"]; st != "locked" {
		t.Fatalf("after five wrong codes the status is %v", st)
	}
	want(t, s.api("POST", "/api/v1/users/"+u["id"].(string)+"/unlock", admin, nil), http.StatusOK)
	want(t, s.api("DELETE", "/api/v1/users/"+u["id"].(string)+"/mfa", admin, nil), http.StatusNoContent)
	want(t, s.loginForm("rita", ritaPassword), http.StatusOK)
	ev := s.audit(admin, "action=auth.mfa.reset")
	if len(ev) != 1 {
		t.Fatalf("want one auth.mfa.reset event, got %d", len(ev))
	}
	// One action, one record, in the transaction of the change: no separate
	// "removed" enrolment event, and what was reset is in the metadata.
	if md, _ := ev[0]["metadata"].(map[string]any); md["was_enrolled"] != true || md["was_confirmed"] != true {
		t.Errorf("auth.mfa.reset metadata %v", ev[0]["metadata"])
	}
	for _, e := range s.audit(admin, "action=auth.mfa.enroll") {
		if e["reason"] == "removed" {
			t.Errorf("the reset also wrote %v", e)
		}
	}
}
