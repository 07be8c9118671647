package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/server"
)

type readsKey struct{}

// fakeReads stands in for the store's read tracking: it records that the
// answer waited, with the context TrackReads marked, and fails when told.
type fakeReads struct {
	fail   error
	tracks int
	waits  int
}

func (f *fakeReads) TrackReads(ctx context.Context) context.Context {
	f.tracks++
	return context.WithValue(ctx, readsKey{}, f)
}

func (f *fakeReads) WaitReads(ctx context.Context) error {
	if ctx.Value(readsKey{}) != f {
		panic("WaitReads called without the context TrackReads marked")
	}
	f.waits++
	return f.fail
}

func readsHandler(t *testing.T, r server.Reads) http.Handler {
	t.Helper()
	h, err := server.New(server.Deps{Issuer: "http://127.0.0.1:8080", Version: "test", Reads: r})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, method, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAnswersWaitForDurableReads: every answer waits once, before its first
// byte, until what its request read is durable; when that fails the answer
// becomes a 503 (a problem on the API, an RFC 6749 error on /oauth2/) that
// keeps the base headers and drops the handler's own.
func TestAnswersWaitForDurableReads(t *testing.T) {
	ok := &fakeReads{}
	rec := get(readsHandler(t, ok), http.MethodGet, "/.well-known/openid-configuration")
	if rec.Code != http.StatusOK || ok.tracks != 1 || ok.waits != 1 {
		t.Fatalf("status %d, %d tracks, %d waits; want 200 after one wait", rec.Code, ok.tracks, ok.waits)
	}

	failing := &fakeReads{fail: apperr.Unavailable(apperr.CodeUnavailable, time.Second, "the database is unavailable")}
	h := readsHandler(t, failing)
	rec = get(h, http.MethodGet, "/.well-known/openid-configuration")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("discovery when the wait fails: %d %q, want a 503 problem", rec.Code, rec.Header().Get("Content-Type"))
	}
	var problem struct {
		Status int `json:"status"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &problem); err != nil || problem.Status != 503 {
		t.Fatalf("body %q is not the 503 problem alone: %v", rec.Body, err)
	}
	if rec.Header().Get("X-Request-Id") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("replaced answer lost the base headers: %v", rec.Header())
	}

	rec = get(h, http.MethodGet, "/oauth2/token") // the mux answers 405
	var oe struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &oe); err != nil || rec.Code != http.StatusServiceUnavailable || oe.Error == "" {
		t.Fatalf("/oauth2/ when the wait fails: %d %q, want a 503 RFC 6749 error", rec.Code, rec.Body)
	}
	if rec.Header().Get("Allow") != "" {
		t.Fatalf("replaced answer kept the handler's header Allow: %v", rec.Header())
	}
	if failing.waits != 2 {
		t.Fatalf("%d waits for two answers, want one each", failing.waits)
	}
}
