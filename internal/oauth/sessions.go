package oauth

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/signing"
)

// ListSessions returns the user's live sessions.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]*Session, error) {
	return s.store.ListSessions(ctx, userID, s.now().UTC())
}

// RevokeSession ends one session of the user and denies its access tokens.
// NotFound session_not_found when the session is not the user's.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID, reason string) error {
	now := s.now().UTC()
	return s.store.InTx(ctx, func(ctx context.Context) error {
		already := false
		_, err := s.store.UpdateSession(ctx, sessionID, func(sess *Session) error {
			if sess.UserID != userID {
				return apperr.NotFound(apperr.CodeSessionNotFound, "no such session")
			}
			if already = sess.RevokedAt != nil; !already {
				sess.RevokedAt, sess.RevokeReason = &now, reason
			}
			return nil
		})
		if err != nil || already {
			return err // an ended session stays ended: no second revocation or event
		}
		if err := s.revocations.Add(ctx, RevokeSession, sessionID, now.Add(s.opts.AccessTTL+time.Minute)); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "session.revoked", Target: audit.Ref{Type: audit.TypeSession, ID: sessionID},
			Reason: reason, Metadata: map[string]any{"user_id": userID}})
	})
}

// RevokeAllSessions ends every session of the user except keep ("" for all).
func (s *Service) RevokeAllSessions(ctx context.Context, userID, keep, reason string) error {
	return s.revocations.RevokeUser(ctx, userID, keep, reason)
}

// looksLikeJWT reports whether a token has the compact JWS shape.
func looksLikeJWT(t string) bool { return strings.Count(t, ".") == 2 }

// Introspect implements RFC 7662 for access tokens, refresh tokens and (via
// IntrospectKey) API keys. Anything not active is {"active": false}, with no
// reason given. The three forms are told apart by their shape, so the
// token_type_hint only names where to look first, and every form is searched
// whatever it says (RFC 7662 §2.1): hint is not used.
func (s *Service) Introspect(ctx context.Context, token, _ string) map[string]any {
	inactive := map[string]any{"active": false}
	if token == "" || len(token) > signing.MaxTokenSize {
		return inactive
	}
	if looksLikeJWT(token) {
		c, err := s.VerifyAccessToken(token, nil)
		if err != nil {
			return inactive
		}
		out := map[string]any{"active": true, "token_type": "Bearer", "iss": c.Issuer, "sub": c.Subject, "aud": c.Audience,
			"exp": c.Expiry, "iat": c.IssuedAt, "nbf": c.NotBefore, "jti": c.ID, "client_id": c.ClientID, "scope": c.Scope}
		if c.SID != "" {
			out["sid"] = c.SID
		}
		if c.Roles != nil {
			out["roles"] = c.Roles
		}
		if c.Groups != nil {
			out["groups"] = c.Groups
		}
		if c.AuthTime != 0 {
			out["auth_time"], out["amr"], out["acr"] = c.AuthTime, c.AMR, c.ACR
		}
		return out
	}
	if s.IntrospectKey != nil {
		if out, ok := s.IntrospectKey(ctx, token); ok {
			return out
		}
	}
	tok, err := s.store.GetRefreshToken(ctx, RefreshKeyOf(token))
	if err != nil || tok.RotatedAt != nil {
		return inactive
	}
	sess, err := s.store.GetSession(ctx, tok.SessionID)
	now := s.now()
	if err != nil || sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || !now.Before(sess.IdleExpiresAt) {
		return inactive
	}
	return map[string]any{"active": true, "token_type": "refresh_token", "iss": s.opts.Issuer, "sub": sess.UserID,
		"client_id": sess.ClientID, "scope": joinScope(sess.Scope), "exp": minTime(sess.ExpiresAt, sess.IdleExpiresAt).Unix(),
		"iat": tok.CreatedAt.Unix(), "sid": sess.ID}
}

// Revoke implements RFC 7009 for the client: a refresh token ends its whole
// session (and the session's access tokens); an access token goes on the
// deny list until it expires. Unknown, expired or malformed tokens are not an
// error (§2.2). A token issued to another client is refused (§2.1).
func (s *Service) Revoke(ctx context.Context, client *Client, token, hint string) error {
	if token == "" || len(token) > signing.MaxTokenSize {
		return nil
	}
	now := s.now().UTC()
	ctx = audit.WithActor(ctx, audit.Ref{Type: audit.TypeClient, ID: client.ID})
	if looksLikeJWT(token) {
		var c AccessClaims
		if err := s.keys.KeySet().Verify(token, TypAccessToken, &c); err != nil || c.Issuer != s.opts.Issuer {
			return nil
		}
		if c.ClientID != client.ID {
			return UnauthorizedClient("the token was issued to another client")
		}
		exp := time.Unix(c.Expiry, 0).Add(Leeway)
		if !exp.After(now) || s.revocations.Revoked(c.ID, "", "", time.Time{}) {
			return nil // expired, or revoked before: nothing to do, nothing to audit again
		}
		return FromErrOrNil(s.store.InTx(ctx, func(ctx context.Context) error {
			if err := s.revocations.Add(ctx, RevokeJTI, c.ID, exp); err != nil {
				return err
			}
			return s.audit.Record(ctx, audit.Event{Action: "token.revoked", Target: audit.Ref{Type: audit.TypeToken, ID: c.ID},
				Metadata: map[string]any{"token_type": "access_token", "sub": c.Subject, "session_id": c.SID}})
		}))
	}
	tok, err := s.store.GetRefreshToken(ctx, RefreshKeyOf(token))
	if apperr.Is(err, apperr.KindNotFound) {
		return nil
	} else if err != nil {
		return FromAppErr(err)
	}
	sess, err := s.store.GetSession(ctx, tok.SessionID)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil
	} else if err != nil {
		return FromAppErr(err)
	}
	if sess.ClientID != client.ID {
		return UnauthorizedClient("the token was issued to another client")
	}
	if sess.RevokedAt != nil {
		return nil
	}
	return FromErrOrNil(s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.store.UpdateSession(ctx, sess.ID, func(x *Session) error {
			x.RevokedAt, x.RevokeReason = &now, "revoked_by_client"
			return nil
		}); err != nil {
			return err
		}
		if err := s.revocations.Add(ctx, RevokeSession, sess.ID, now.Add(s.opts.AccessTTL+time.Minute)); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "token.revoked", Actor: audit.Ref{Type: audit.TypeUser, ID: sess.UserID},
			Target: audit.Ref{Type: audit.TypeSession, ID: sess.ID}, Metadata: map[string]any{"token_type": "refresh_token", "client_id": client.ID}})
	}))
}

// FromErrOrNil is FromAppErr that keeps nil as nil.
func FromErrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return FromAppErr(err)
}
