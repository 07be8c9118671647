package server

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Seeds shared by the fuzz targets: CRLF, NUL, look-alikes, "..", huge values.
var attackerStrings = []string{
	"", " ", "\r\n", "a\r\nX-Injected: 1", "\x00", "a\x00b", "..", "../../etc/passwd", "%2e%2e%2f",
	"аdmin", "ａｄｍｉｎ", "admin\u200b", "\u202eevil", "\ufeff", "\xff\xfe", strings.Repeat("A", 70<<10),
}

const fuzzBodyLimit = 1 << 10

// FuzzDecode: decode never fails with anything but a 400, 413, 415 or 422
// problem (415 only for a Content-Type that is not JSON), accepts only one valid JSON value within the limit, and puts no
// raw control character into what the client sees.
func FuzzDecode(f *testing.F) {
	for _, s := range attackerStrings {
		f.Add([]byte(`{"username":"`+s+`"}`), "application/json")
		f.Add([]byte(s), "")
	}
	for _, s := range []string{`{"username":"a"}`, `{"username":"a"} x`, `{"username":"a"}{}`, `{"nope":1}`, `{"roles":"x"}`,
		`{"password":null}`, `null`, `[]`, `{"username":"a","username":"b"}`, "{\"user\x00name\":1}", `{"Username":"a"}`,
		`{"groups":[1]}`, `{"roles":[` + strings.Repeat(`"r",`, 400) + `"r"]}`, `{"username":"a"}` + strings.Repeat(" ", 2000)} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{"username":"a"}`), "text/plain")
	f.Add([]byte(`{"username":"a"}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"username":"a"}`), "application/problem+json")
	f.Add([]byte(`{"username":"a"}`), "application/json; a=\x00")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest("POST", "/api/v1/users", bytes.NewReader(body))
		if contentType != "" {
			r.Header["Content-Type"] = []string{contentType}
		}
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, fuzzBodyLimit)
		_, err := decode[createUserRequest](r)
		if err == nil {
			if len(body) > fuzzBodyLimit || !json.Valid(body) {
				t.Fatalf("accepted %q (%d bytes)", body, len(body))
			}
			return
		}
		ae, ok := apperr.As(err)
		if !ok {
			t.Fatalf("error is not an *apperr.Error: %T %v", err, err)
		}
		switch ae.Kind {
		case apperr.KindMalformed, apperr.KindInvalid:
		case apperr.KindUnsupportedMediaType:
			if contentType == "" || contentType == "application/json" {
				t.Fatalf("Content-Type %q refused as unsupported", contentType)
			}
		case apperr.KindTooLarge:
			if len(body) <= fuzzBodyLimit {
				t.Fatalf("%d bytes refused as too large", len(body))
			}
		default:
			t.Fatalf("kind %v for %q: %v", ae.Kind, body, err)
		}
		for _, s := range append([]string{ae.Code, ae.Detail}, fieldStrings(ae.Fields)...) {
			if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
				t.Fatalf("client-visible text has a control character: %q", s)
			}
		}
	})
}

func fieldStrings(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

// FuzzParseBearer: a token comes only from "Bearer <token>" (any case),
// is never empty and never holds whitespace that could split it.
func FuzzParseBearer(f *testing.F) {
	for _, s := range attackerStrings {
		f.Add("Bearer " + s)
	}
	for _, s := range []string{"Bearer abc", "bearer abc", "BEARER abc", "Bearer  abc ", "Bearer", "Bearer ", "Bearer a b",
		"Bearer a\tb", "Bearer a\r\nb", "Basic abc", "Bearerabc", "Bearer\tabc", "Bearer \u00a0abc", "Bearer a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		tok, ok := bearer(r)
		if !ok {
			if tok != "" {
				t.Fatalf("refused %q but returned %q", h, tok)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") || !strings.EqualFold(h[:7], "bearer ") || tok != strings.TrimSpace(h[7:]) {
			t.Fatalf("bearer(%q) = %q", h, tok)
		}
	})
}

var fuzzTrusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"),
	netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fd00::/8")}

// FuzzClientIP: the client IP is the peer's unless the peer is a trusted
// proxy; it is always a plain address (no zone) or the peer's host as given.
func FuzzClientIP(f *testing.F) {
	for _, s := range attackerStrings {
		f.Add("127.0.0.1:1234", s)
		f.Add(s, "203.0.113.7")
	}
	for _, c := range [][2]string{{"127.0.0.1:1", "203.0.113.7"}, {"127.0.0.1:1", "198.51.100.1, 203.0.113.7, 10.0.0.2"},
		{"[::1]:1", "2001:db8::1"}, {"[::ffff:127.0.0.1]:1", "::ffff:203.0.113.9"}, {"127.0.0.1:1", "fe80::1%eth0"},
		{"127.0.0.1:1", "10.0.0.1, 10.0.0.2"}, {"203.0.113.1:1", "10.0.0.1"}, {"[fe80::1%25lo]:1", "1.2.3.4"},
		{"127.0.0.1:1", ",,,"}, {"127.0.0.1:1", "1.2.3.4:80"}, {"127.0.0.1:1", " 1.2.3.4 "}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header["X-Forwarded-For"] = []string{xff}
		got := clientIP(r, fuzzTrusted)
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		peer, perr := netip.ParseAddr(host)
		if perr != nil {
			if got != host {
				t.Fatalf("unparsable peer %q gave %q", remote, got)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.Is4In6() {
			t.Fatalf("clientIP(%q, %q) = %q: not a plain address", remote, xff, got)
		}
		if a == peer.Unmap() {
			return
		}
		if !isTrusted(peer.Unmap(), fuzzTrusted) {
			t.Fatalf("untrusted peer %q with X-Forwarded-For %q gave %q", remote, xff, got)
		}
		if a.Zone() != "" {
			t.Fatalf("X-Forwarded-For %q gave %q: a zone is not part of a client address", xff, got)
		}
		for _, hop := range strings.Split(xff, ",") {
			if h, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && h.Unmap().WithZone("") == a {
				return
			}
		}
		t.Fatalf("%q came from neither the peer %q nor X-Forwarded-For %q", got, remote, xff)
	})
}

// TestClientIP pins the choices of clientIP.
func TestClientIP(t *testing.T) {
	for _, c := range []struct{ name, remote, xff, want string }{
		{"untrusted peer ignores the header", "203.0.113.1:5", "198.51.100.1", "203.0.113.1"},
		{"trusted peer, one hop", "127.0.0.1:5", "198.51.100.1", "198.51.100.1"},
		{"right-most untrusted hop wins", "127.0.0.1:5", "192.0.2.66, 198.51.100.1, 10.1.1.1", "198.51.100.1"},
		{"spoofed left-most entry is ignored", "127.0.0.1:5", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"all hops trusted", "127.0.0.1:5", "10.0.0.1, 10.0.0.2", "10.0.0.1"},
		{"garbage stops the walk", "127.0.0.1:5", "198.51.100.1, garbage", "127.0.0.1"},
		{"two headers", "127.0.0.1:5", "", "198.51.100.2"},
		{"mapped IPv6 is unmapped", "[::ffff:127.0.0.1]:5", "::ffff:198.51.100.3", "198.51.100.3"},
		{"zone dropped", "127.0.0.1:5", "fe80::1%evil<script>", "fe80::1"},
		{"no port", "203.0.113.9", "", "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			} else if c.name == "two headers" {
				r.Header.Add("X-Forwarded-For", "192.0.2.1")
				r.Header.Add("X-Forwarded-For", "198.51.100.2")
			}
			if got := clientIP(r, fuzzTrusted); got != c.want {
				t.Errorf("clientIP = %q, want %q", got, c.want)
			}
		})
	}
}
