package server

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// catchAll is the pattern of the route that answers what no other route
// serves. It matches every method, so the mux never answers 405 itself.
const catchAll = "/"

// handleUnmatched answers a request no route serves: 405 with Allow when
// the path has routes for other methods (RFC 9110 §15.5.6), else 404.
func handleUnmatched(m router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(m, r); len(allow) > 0 {
			writeMethodNotAllowed(w, r, allow)
			return
		}
		writeProblem(w, r, errNotFound)
	})
}

// routeMethods are the methods routes are registered with, and HEAD, which
// every GET route serves.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods that a route other than the catch-all
// serves at r's path, by asking m which route each method would reach.
func allowedMethods(m router, r *http.Request) []string {
	var allow []string
	probe := *r // shallow: only the method differs, and m reads no body
	for _, method := range routeMethods {
		probe.Method = method
		if _, pattern := m.Handler(&probe); pattern != "" && pattern != catchAll {
			allow = append(allow, method)
		}
	}
	return allow
}

// writeMethodNotAllowed answers 405 with the Allow header, in the dialect of
// the path: an RFC 6749 invalid_request under /oauth2/, a problem elsewhere.
// An empty allow (TRACE on a path no route serves) sends an empty Allow:
// the resource allows no method.
func writeMethodNotAllowed(w http.ResponseWriter, r *http.Request, allow []string) {
	list := strings.Join(allow, ", ")
	detail := r.Method + " is not served here"
	if list != "" {
		detail += "; use " + list
	}
	headers := map[string]string{"Allow": list}
	if strings.HasPrefix(r.URL.Path, "/oauth2/") {
		writeOAuthError(w, r, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: detail, Status: http.StatusMethodNotAllowed, Headers: headers})
		return
	}
	e := apperr.MethodNotAllowed(apperr.CodeMethodNotAllowed, "%s", detail)
	e.Headers = headers
	writeProblem(w, r, e)
}
