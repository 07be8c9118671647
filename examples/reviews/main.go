// Command reviews is a small document-review API protected by Gatehouse
// through the sdk package: viewers read, reviewers write and approve
// reviews, lead reviewers assign them, admins delete documents. Every rule is
// one line at the route. See README.md for the five-minute walkthrough.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/sdk"
)

func main() {
	issuer := flag.String("issuer", envOr("GATEHOUSE_ISSUER", "http://127.0.0.1:8080"), "Gatehouse's issuer URL")
	listen := flag.String("listen", envOr("REVIEWS_LISTEN", "127.0.0.1:8081"), "address to serve on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	v, err := sdk.NewVerifier(ctx, sdk.Config{Issuer: *issuer})
	if err != nil {
		log.Fatalf("reviews: cannot reach Gatehouse at %s (start it first: go run ./cmd/gatehouse serve): %v", *issuer, err)
	}
	srv := &http.Server{Addr: *listen, Handler: NewApp(v), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	log.Printf("reviews: serving on http://%s, trusting tokens of %s", *listen, *issuer)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// NewApp returns the API: each route names what it needs.
func NewApp(v *sdk.Verifier) http.Handler {
	a := &reviews{docs: map[int]*document{1: {ID: 1, Title: "Security overview"}, 2: {ID: 2, Title: "Architecture"}}}
	mux := http.NewServeMux()
	need := func(perm string, h http.HandlerFunc) http.Handler {
		return v.Authenticate(sdk.RequirePermission(perm)(h))
	}
	mux.Handle("GET /documents", need("documents:read", a.list))
	mux.Handle("POST /documents/{id}/reviews", need("reviews:write", a.review))
	mux.Handle("POST /documents/{id}/approve", need("reviews:approve", a.approve))
	mux.Handle("POST /documents/{id}/assign", need("reviews:assign", a.assign))
	mux.Handle("DELETE /documents/{id}", v.Authenticate(sdk.RequireRole("admin")(http.HandlerFunc(a.delete))))
	return mux
}

type document struct {
	ID       int      `json:"id"`
	Title    string   `json:"title"`
	Reviews  []string `json:"reviews"`
	Approved string   `json:"approved_by,omitempty"`
	Assignee string   `json:"assignee,omitempty"`
}

type reviews struct {
	mu   sync.Mutex
	docs map[int]*document
}

func (a *reviews) doc(w http.ResponseWriter, r *http.Request) *document {
	id, _ := strconv.Atoi(r.PathValue("id"))
	d := a.docs[id]
	if d == nil {
		http.Error(w, `{"error":"no such document"}`, http.StatusNotFound)
	}
	return d
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (a *reviews) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*document, 0, len(a.docs))
	for i := 1; i <= len(a.docs)+10; i++ {
		if d := a.docs[i]; d != nil {
			out = append(out, d)
		}
	}
	reply(w, out)
}

func (a *reviews) review(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.doc(w, r); d != nil {
		p, _ := sdk.PrincipalFrom(r.Context())
		d.Reviews = append(d.Reviews, p.Subject)
		reply(w, d)
	}
}

func (a *reviews) approve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.doc(w, r); d != nil {
		p, _ := sdk.PrincipalFrom(r.Context())
		d.Approved = p.Subject
		reply(w, d)
	}
}

func (a *reviews) assign(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.doc(w, r); d != nil {
		d.Assignee = r.URL.Query().Get("to")
		reply(w, d)
	}
}

func (a *reviews) delete(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.doc(w, r); d != nil {
		delete(a.docs, d.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}
