package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// handleHealthz answers 200 while the process serves.
func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 when the store answers, else 503.
func (s *Server) handleReadyz() http.Handler {
	return api(func(w http.ResponseWriter, r *http.Request) error {
		if s.ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := s.ready(ctx); err != nil {
				return apperr.Unavailable(apperr.CodeUnavailable, 5*time.Second, "the database is not reachable").WithCause(err)
			}
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready", "version": s.version})
		return nil
	})
}
