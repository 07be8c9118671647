package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Problem is an RFC 9457 problem details object, with Gatehouse's stable
// code, the request id, and per-field errors for validation failures.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Code      string            `json:"code"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
}

var kindStatus = map[apperr.Kind]int{
	apperr.KindInternal:        http.StatusInternalServerError,
	apperr.KindMalformed:       http.StatusBadRequest,
	apperr.KindInvalid:         http.StatusUnprocessableEntity,
	apperr.KindUnauthenticated: http.StatusUnauthorized,
	apperr.KindForbidden:       http.StatusForbidden,
	apperr.KindNotFound:        http.StatusNotFound,
	apperr.KindConflict:        http.StatusConflict,
	apperr.KindTooLarge:        http.StatusRequestEntityTooLarge,
	apperr.KindRateLimited:     http.StatusTooManyRequests,
	apperr.KindUnavailable:     http.StatusServiceUnavailable,

	apperr.KindMethodNotAllowed:     http.StatusMethodNotAllowed,
	apperr.KindUnsupportedMediaType: http.StatusUnsupportedMediaType,
}

// problemTypeBase prefixes the type URI of each problem code.
const problemTypeBase = "https://gatehouse.dev/problems/"

// writeProblem renders err as application/problem+json. Anything that is not
// an *apperr.Error is an internal error: the client sees only the request id,
// the log gets the cause.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	ae, ok := apperr.As(err)
	if !ok || ae.Kind == apperr.KindInternal {
		slog.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()), "err", err)
		ae = apperr.Internal(err)
	} else if ae.Err != nil {
		slog.DebugContext(r.Context(), "request refused", "code", ae.Code, "err", ae.Err)
	}
	status := kindStatus[ae.Kind]
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	for k, v := range ae.Headers {
		w.Header().Set(k, v)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", challenge(ae.Code))
	}
	p := Problem{Type: problemTypeBase + ae.Code, Title: http.StatusText(status), Status: status, Detail: ae.Detail,
		Code: ae.Code, RequestID: requestIDFrom(r.Context()), Errors: ae.Fields}
	writeJSON(w, status, "application/problem+json", p)
}

// challenge is the WWW-Authenticate of a 401 (RFC 6750 §3): a request
// without credentials gets the bare challenge, one whose token was refused
// also error="invalid_token". Nothing of the token goes into it.
func challenge(code string) string {
	if code == apperr.CodeInvalidToken {
		return `Bearer realm="gatehouse", error="invalid_token"`
	}
	return `Bearer realm="gatehouse"`
}
