package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// writeOAuthError renders an RFC 6749 §5.2 error: JSON with error and
// error_description (plus extension members such as mfa_token), no-store,
// and on a 401 a WWW-Authenticate challenge: the Bearer one a handler set
// (RFC 6750 §3), else Basic for client authentication (§5.2).
func writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	oe := oauth.FromAppErr(err)
	if oe.Status >= 500 {
		slog.ErrorContext(r.Context(), "oauth endpoint failed", "path", r.URL.Path, "request_id", requestIDFrom(r.Context()), "err", err)
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((oe.RetryAfter+time.Second-1)/time.Second)))
	}
	for k, v := range oe.Headers {
		w.Header().Set(k, v)
	}
	if oe.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
	}
	body := make(map[string]string, 2+len(oe.Extra))
	for k, v := range oe.Extra {
		body[k] = v
	}
	body["error"] = oe.Code
	if oe.Description != "" {
		body["error_description"] = oe.Description
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, oe.Status, "application/json", body)
}
