package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

type requestIDKey struct{}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// api adapts a handler that returns an error to the REST dialect: errors are
// RFC 9457 problems. It makes "wrote the error, forgot to return" impossible.
func api(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeProblem(w, r, err)
		}
	})
}

// oauthEndpoint adapts a handler to the OAuth dialect: errors are RFC 6749 JSON.
func oauthEndpoint(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeOAuthError(w, r, err)
		}
	})
}

// clientIP returns the address of the peer, or the right-most untrusted
// address of X-Forwarded-For when the peer is a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	xff := r.Header.Values("X-Forwarded-For")
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap().WithZone("") // a zone is free text from the header, not part of the address
		if !isTrusted(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// statusWriter records the status for logs and metrics, and holds the
// answer until what the request read is durable.
type statusWriter struct {
	http.ResponseWriter
	status int

	// hold, when set, runs before the answer's first byte: it waits until
	// every commit the request's reads could have seen is durable. When it
	// fails, a 503 replaces the handler's answer (replaced), whose writes
	// are then dropped.
	hold     func() error
	req      *http.Request
	replaced bool
}

// release runs hold once; false when the answer was replaced by a 503.
func (w *statusWriter) release() bool {
	if w.hold == nil {
		return !w.replaced
	}
	hold := w.hold
	w.hold = nil
	if err := hold(); err != nil {
		h := w.Header()
		for k := range h {
			if _, keep := baseHeaders[k]; !keep {
				delete(h, k)
			}
		}
		if strings.HasPrefix(w.req.URL.Path, "/oauth2/") {
			writeOAuthError(w, w.req, err)
		} else {
			writeProblem(w, w.req, err)
		}
		w.replaced = true
		return false
	}
	return true
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.release() {
		return
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.release() {
		return len(b), nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// base is the outermost middleware: request id, client IP and request facts
// for audit, security headers, body limit, TRACE refusal, panic recovery and
// the access log, around the routes of mux.
func (s *Server) base(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = secret.RandomID("req")
		}
		ip := clientIP(r, s.trustedProxies)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = audit.WithRequest(ctx, audit.Request{IP: ip, UserAgent: r.UserAgent(), ID: id})
		if s.reads != nil {
			ctx = s.reads.TrackReads(ctx)
		}
		r = r.WithContext(ctx)
		h := w.Header()
		h["X-Request-Id"] = []string{id}
		for k, v := range securityHeaders {
			h[k] = v // shared, never modified: handlers replace, not append
		}
		if r.TLS != nil {
			h["Strict-Transport-Security"] = hsts
		}
		sw := &statusWriter{ResponseWriter: w, req: r}
		if s.reads != nil {
			sw.hold = func() error { return s.reads.WaitReads(ctx) }
		}
		defer func() {
			if rec := recover(); rec != nil {
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				slog.ErrorContext(ctx, "panic serving request", "path", r.URL.Path, "panic", rec, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeProblem(sw, r, apperr.Internal(nil))
				}
			}
			s.observe(r, sw.status, time.Since(start))
		}()
		if r.Method == http.MethodTrace || r.Method == http.MethodConnect {
			// Refused before any handler, whatever the path (SPEC §15).
			writeMethodNotAllowed(sw, r, allowedMethods(mux, r))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, s.bodyLimit)
		}
		if err := s.limitIP(r, ip); err != nil {
			if credentialPaths[r.URL.Path] {
				s.pacer.hold(r.Context(), err)
			}
			writeProblem(sw, r, err)
			return
		}
		mux.ServeHTTP(sw, r)
	})
}

// credentialPaths are the endpoints outside /oauth2/token that take a
// password or a one-time secret: limited per client address (SPEC §4).
var credentialPaths = map[string]bool{"/api/v1/activate": true, "/api/v1/me/password": true}

// limitIP applies the per-address limits: the credential limit on
// credentialPaths and the API limit on the rest of /api/v1. The token
// endpoint's limits are the oauth service's; machine hot paths (key
// verification, forward-auth) have their own.
func (s *Server) limitIP(r *http.Request, ip string) error {
	switch {
	case r.Method == http.MethodPost && credentialPaths[r.URL.Path]:
		return ratelimit.Check(r.Context(), s.limiter, "cred-ip:"+ip, s.credPerIP)
	case strings.HasPrefix(r.URL.Path, "/api/v1/") && !strings.HasPrefix(r.URL.Path, "/api/v1/keys/verify") && r.URL.Path != "/api/v1/forward-auth":
		return ratelimit.Check(r.Context(), s.limiter, "api-ip:"+ip, s.apiPerIP)
	}
	return nil
}

// securityHeaders go on every response (canonical keys, prepared once).
var securityHeaders = map[string][]string{
	"X-Content-Type-Options":       {"nosniff"},
	"X-Frame-Options":              {"DENY"},
	"Referrer-Policy":              {"no-referrer"},
	"Content-Security-Policy":      {"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"},
	"Cross-Origin-Opener-Policy":   {"same-origin"},
	"Cross-Origin-Resource-Policy": {"same-origin"},
	"Permissions-Policy":           {"camera=(), microphone=(), geolocation=()"},
	"Cache-Control":                {"no-store"},
}

var hsts = []string{"max-age=63072000; includeSubDomains"}

// baseHeaders are the headers base sets on every answer, which a replaced
// answer keeps.
var baseHeaders = func() map[string]struct{} {
	m := map[string]struct{}{"X-Request-Id": {}, "Strict-Transport-Security": {}}
	for k := range securityHeaders {
		m[k] = struct{}{}
	}
	return m
}()

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// observe logs the request (never its body, query or headers: they may hold secrets).
func (s *Server) observe(r *http.Request, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	if s.metrics != nil {
		s.metrics.ObserveRequest(routeOf(r), r.Method, status, d)
	}
	lvl := slog.LevelDebug
	if status >= 500 {
		lvl = slog.LevelError
	}
	if !slog.Default().Enabled(r.Context(), lvl) {
		return // build no log arguments for a line nobody reads
	}
	slog.Log(r.Context(), lvl, "request", "method", r.Method, "route", routeOf(r), "status", status,
		"duration_ms", float64(d.Microseconds())/1000, "ip", audit.RequestFrom(r.Context()).IP, "request_id", requestIDFrom(r.Context()))
}

// routeOf returns the matched route pattern, a bounded label for metrics.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}
