package oauth

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Lifetimes of the one-time tokens the password grant hands out.
const (
	MFATokenTTL            = 5 * time.Minute
	PasswordChangeTokenTTL = 10 * time.Minute
)

var errBadCredentials = InvalidGrant("invalid username or password")

func (s *Service) passwordGrant(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	if !s.opts.PasswordGrant {
		return nil, oerr(400, ErrUnsupportedGrantType, "the password grant is turned off on this server (GATEHOUSE_PASSWORD_GRANT=false)")
	}
	client, err := s.AuthenticateClient(ctx, req.ClientID, req.ClientSecret, true)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(client.GrantTypes, GrantPassword) {
		return nil, UnauthorizedClient("this client may not use the password grant")
	}
	if req.Username == "" || req.Password == "" {
		return nil, InvalidRequest("username and password are required")
	}
	requested, err := ParseScope(req.Scope)
	if err != nil {
		return nil, err
	}
	aud, err := s.audience(req.Resource)
	if err != nil {
		return nil, err
	}
	ctx = audit.WithActor(ctx, audit.Ref{Type: audit.TypeClient, ID: client.ID})
	if err := s.checkLogin(ctx, req.Username); err != nil {
		return nil, s.loginFailed(ctx, nil, req.Username, client.ID, err)
	}
	u, err := s.users.Authenticate(ctx, req.Username, req.Password)
	if err != nil {
		return nil, s.loginFailed(ctx, u, req.Username, client.ID, err)
	}
	ctx = audit.WithActor(ctx, audit.Ref{Type: audit.TypeUser, ID: u.ID})
	snap, err := s.rbac.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	roles, perms := snap.Resolve(u.Roles, u.Groups)
	if u.MustChangePassword {
		tok, err := s.oneTime(ctx, u.ID, client.ID, user.TokenPasswordChange, PasswordChangeTokenTTL, "")
		if err != nil {
			return nil, err
		}
		_ = s.audit.Record(ctx, audit.Event{Action: "auth.login", Target: userRef(u.ID), Outcome: audit.OutcomeDenied, Reason: "password_change_required"})
		return nil, &Error{Code: ErrPasswordChangeRequired, Status: 403,
			Description: "the password must be changed before first use: POST /api/v1/me/password with this token as the Bearer",
			Extra:       map[string]string{"password_change_token": tok}}
	}
	if u.TOTPEnabled || s.requiresMFA(roles) {
		kind, code, desc := user.TokenMFA, ErrMFARequired, "a second factor is required: call the token endpoint with grant_type=urn:gatehouse:grant-type:mfa-otp, mfa_token and otp"
		if !u.TOTPEnabled {
			kind, code, desc = user.TokenMFAEnrollment, ErrMFAEnrollmentRequired, "this account must enrol a second factor first: POST /api/v1/me/mfa/totp with the mfa_token as the Bearer"
		}
		data, _ := json.Marshal(map[string]any{"scope": requested, "resource": req.Resource})
		tok, err := s.oneTime(ctx, u.ID, client.ID, kind, MFATokenTTL, string(data))
		if err != nil {
			return nil, err
		}
		_ = s.audit.Record(ctx, audit.Event{Action: "auth.login", Target: userRef(u.ID), Outcome: audit.OutcomeDenied, Reason: "mfa_required"})
		return nil, &Error{Code: code, Status: 403, Description: desc, Extra: map[string]string{"mfa_token": tok}}
	}
	scopes := grantScope(requested, perms, client.Scopes)
	return s.startSession(ctx, sessionStart{user: u, client: client, scopes: scopes, aud: aud, roles: roles, amr: []string{"pwd"}})
}

// checkLogin applies the per-address and per-username limits of a sign-in
// before any password is hashed. The username is limited by its normalized
// key, so changing its case or width does not open a new bucket.
func (s *Service) checkLogin(ctx context.Context, username string) error {
	if ip := audit.RequestFrom(ctx).IP; ip != "" {
		if err := ratelimit.Check(ctx, s.limiter, "login-ip:"+ip, s.opts.LoginPerIP); err != nil {
			return err
		}
	}
	key := user.UsernameKey(username)
	if key == "" {
		key = "~" + strings.ToLower(clipUsername(username))
	}
	return ratelimit.Check(ctx, s.limiter, "login-user:"+key, s.opts.LoginPerUser)
}

func (s *Service) oneTime(ctx context.Context, userID, clientID string, kind user.TokenKind, ttl time.Duration, data string) (string, error) {
	tok := secret.Token()
	now := s.now().UTC()
	err := s.userStore.CreateOneTimeToken(ctx, &user.OneTimeToken{Hash: secret.Hash(tok), Kind: kind, UserID: userID,
		ClientID: clientID, Data: data, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	return tok, err
}

// loginFailed audits a failed password grant and chooses the client's answer.
func (s *Service) loginFailed(ctx context.Context, u *user.User, username, clientID string, err error) error {
	reason := ""
	var answer error
	switch {
	case errors.Is(err, user.ErrInvalidCredentials):
		reason, answer = "invalid_credentials", errBadCredentials
	case errors.Is(err, user.ErrDisabled):
		reason, answer = "disabled", InvalidGrant("the account is disabled")
	case errors.Is(err, user.ErrLocked):
		// Like a wrong password: the client learns nothing about the account.
		reason, answer = "locked", errBadCredentials
	case apperr.Is(err, apperr.KindRateLimited):
		reason, answer = "rate_limited", FromAppErr(err)
	default:
		return FromAppErr(err)
	}
	if reason == "rate_limited" && !s.refusals.Allow(audit.RequestFrom(ctx).IP, s.now()) {
		// One record per address a minute is evidence enough: a stuffing
		// attack rotates usernames, and one write per refusal would let it
		// queue legitimate sign-ins behind the audit log.
		return answer
	}
	target := audit.Ref{Type: audit.TypeUser}
	md := map[string]any{"client_id": clientID}
	if u != nil {
		target.ID = u.ID
	} else {
		md["username"] = clipUsername(username)
	}
	if rerr := s.audit.Record(ctx, audit.Event{Action: "auth.login", Target: target, Outcome: audit.OutcomeFailure, Reason: reason, Metadata: md}); rerr != nil {
		return FromAppErr(rerr)
	}
	return answer
}

func clipUsername(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

type sessionStart struct {
	user   *user.User
	client *Client
	scopes []string
	aud    []string
	roles  []string
	amr    []string
}

// startSession creates a session (and a refresh token when the client may
// refresh), mints the tokens, and audits the sign-in, all in one transaction.
func (s *Service) startSession(ctx context.Context, in sessionStart) (*TokenResponse, error) {
	now := s.now().UTC()
	req := audit.RequestFrom(ctx)
	sess := &Session{ID: secret.RandomID("ses"), UserID: in.user.ID, ClientID: in.client.ID, Scope: in.scopes,
		Audience: in.aud, AuthTime: now, AMR: in.amr, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: now.Add(s.opts.AccessTTL), IP: req.IP, UserAgent: truncate(req.UserAgent, 512)}
	sess.IdleExpiresAt = sess.ExpiresAt
	var refresh string
	var first *RefreshToken
	if slices.Contains(in.client.GrantTypes, GrantRefreshToken) {
		refresh = newRefreshToken(sess.ID, 0)
		sess.ExpiresAt, sess.IdleExpiresAt = now.Add(s.opts.RefreshTTL), now.Add(min(s.opts.RefreshIdleTTL, s.opts.RefreshTTL))
		sess.CurrentHash = secret.Hash(refresh)
		first = &RefreshToken{Hash: sess.CurrentHash, SessionID: sess.ID, CreatedAt: now}
	}
	resp, err := s.respond(in.user, in.client.ID, sess, in.roles, refresh, now)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateSession(ctx, sess, first); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Event{Action: "auth.login", Target: userRef(in.user.ID),
			Metadata: map[string]any{"client_id": in.client.ID, "amr": in.amr, "session_id": sess.ID}}); err != nil {
			return err
		}
		if slices.Contains(in.roles, rbac.RoleAdmin) {
			if err := s.audit.Record(ctx, audit.Event{Action: "admin.sign_in", Target: userRef(in.user.ID),
				Metadata: map[string]any{"client_id": in.client.ID, "session_id": sess.ID}}); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Event{Action: "token.issued", Target: audit.Ref{Type: audit.TypeSession, ID: sess.ID},
			Metadata: map[string]any{"client_id": in.client.ID, "grant_type": "password", "scope": in.scopes, "refresh": refresh != ""}})
	})
	if err != nil {
		return nil, FromAppErr(err)
	}
	return resp, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// respond mints the access (and ID) token of a session.
func (s *Service) respond(u *user.User, clientID string, sess *Session, roles []string, refresh string, now time.Time) (*TokenResponse, error) {
	at, err := s.mintAccess(mintInput{Subject: u.ID, ClientID: clientID, Scopes: sess.Scope, Audience: sess.Audience,
		Roles: roles, Groups: u.Groups, AuthTime: sess.AuthTime, AMR: sess.AMR, SID: sess.ID, Now: now})
	if err != nil {
		return nil, err
	}
	resp := &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(s.opts.AccessTTL / time.Second),
		RefreshToken: refresh, Scope: joinScope(sess.Scope)}
	if slices.Contains(sess.Scope, "openid") {
		if resp.IDToken, err = s.mintID(u, clientID, sess, now); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func joinScope(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func userRef(id string) audit.Ref { return audit.Ref{Type: audit.TypeUser, ID: id} }

// successorKey derives the key under which a rotated refresh token's
// successor response is kept: only the holder of the old token can read it.
func successorKey(token string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(token), nil, "gatehouse refresh successor v1", 32)
}

var errSessionGone = InvalidGrant("the refresh token is invalid, expired or revoked")

// refreshGrant rotates a refresh token (SPEC §5): a retry or concurrent use
// within the grace gets the very same successor response; a reuse after the
// grace revokes the whole family.
//
// Everything that needs no lock (reading the session and user, minting and
// sealing the successor) happens before the write transaction, which only
// checks that the family is still where it was read and records the rotation:
// on SQLite the single writer is held for microseconds, not a signature.
func (s *Service) refreshGrant(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	client, err := s.AuthenticateClient(ctx, req.ClientID, req.ClientSecret, true)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(client.GrantTypes, GrantRefreshToken) {
		return nil, UnauthorizedClient("this client may not use refresh tokens")
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 512 {
		return nil, InvalidRequest("refresh_token is required")
	}
	requested, err := ParseScope(req.Scope)
	if err != nil {
		return nil, err
	}
	key := RefreshKeyOf(req.RefreshToken)
	now := s.now().UTC()
	fam, err := s.store.GetRefreshFamily(ctx, key)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil, errSessionGone
	} else if err != nil {
		return nil, FromAppErr(err)
	}
	tok := fam.Token
	// Fast path: an idempotent retry within the grace needs no write.
	if tok.RotatedAt != nil && now.Sub(*tok.RotatedAt) <= s.opts.ReuseGrace {
		if resp, ok := s.replayFor(fam.Session, tok, req.RefreshToken, client.ID); ok {
			return resp, nil
		}
	}
	var resp *TokenResponse
	var sealed []byte
	var next string
	var idleUntil time.Time
	if tok.RotatedAt == nil {
		var expires time.Time
		if resp, next, sealed, expires, err = s.prepareRotation(ctx, fam, req.RefreshToken, client.ID, requested, now); err != nil {
			return nil, err
		}
		idleUntil = minTime(now.Add(s.opts.RefreshIdleTTL), expires)
	}
	var reused *Session
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		var sess *Session
		if resp != nil {
			// The common case in one conditional write: the session is live
			// and the presented token still its current one.
			adv := SessionAdvance{ID: tok.SessionID, ClientID: client.ID, From: key.Hash, To: secret.Hash(next), Now: now, IdleUntil: idleUntil}
			ok, err := s.store.AdvanceSession(ctx, &adv)
			if err != nil {
				return err
			}
			if ok {
				sess = &Session{ID: adv.ID, UserID: adv.UserID, CurrentHash: adv.To, Generation: adv.Generation}
			}
		}
		if sess == nil {
			// The family moved, ended or was never live: read it under its
			// lock to tell a concurrent rotation within the grace (replay)
			// from a reuse (revoke the family) from an end.
			var err error
			sess, err = s.store.UpdateSession(ctx, tok.SessionID, func(sess *Session) error {
				if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || !now.Before(sess.IdleExpiresAt) || sess.ClientID != client.ID {
					return errSessionGone
				}
				cur, err := s.store.GetRefreshToken(ctx, key)
				if err != nil {
					return err
				}
				if cur.RotatedAt != nil && now.Sub(*cur.RotatedAt) <= s.opts.ReuseGrace {
					return errRetryReplay
				}
				sess.RevokedAt, sess.RevokeReason = &now, "reuse_detected"
				reused = sess
				return nil
			})
			if err != nil {
				return err
			}
			if err := s.revocations.Add(ctx, RevokeSession, sess.ID, now.Add(s.opts.AccessTTL+time.Minute)); err != nil {
				return err
			}
			return s.audit.Record(ctx, audit.Event{Action: "token.reuse_detected", Actor: userRef(sess.UserID),
				Target: audit.Ref{Type: audit.TypeSession, ID: sess.ID}, Outcome: audit.OutcomeDenied, Reason: "refresh_token_reused",
				Metadata: map[string]any{"client_id": client.ID, "generation": tok.Generation}})
		}
		rotated := *tok
		rotated.RotatedAt, rotated.Successor = &now, sealed
		newTok := &RefreshToken{Hash: sess.CurrentHash, SessionID: sess.ID, Generation: sess.Generation, CreatedAt: now}
		if err := s.store.RotateRefreshToken(ctx, &rotated, newTok); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "token.refreshed", Actor: userRef(sess.UserID),
			Target: audit.Ref{Type: audit.TypeSession, ID: sess.ID}, Metadata: map[string]any{"client_id": client.ID, "generation": sess.Generation}})
	})
	switch {
	case errors.Is(err, errRetryReplay):
		tok, gerr := s.store.GetRefreshToken(ctx, key)
		if gerr == nil {
			if resp, ok := s.replay(ctx, tok, req.RefreshToken, client.ID); ok {
				return resp, nil
			}
		}
		return nil, errSessionGone
	case err != nil:
		return nil, FromAppErr(err)
	case reused != nil:
		return nil, errSessionGone
	}
	return resp, nil
}

// prepareRotation mints the successor response from the family as read
// without locks, sealed under a key derived from the presented token. The
// transaction then only commits it if the family has not moved.
func (s *Service) prepareRotation(ctx context.Context, fam *RefreshFamily, presented, clientID string, requested []string, now time.Time) (resp *TokenResponse, next string, sealed []byte, expires time.Time, err error) {
	sess, u := fam.Session, fam.User
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || !now.Before(sess.IdleExpiresAt) || sess.ClientID != clientID {
		return nil, "", nil, time.Time{}, errSessionGone
	}
	if !u.Status.CanUseTokens() {
		return nil, "", nil, time.Time{}, errSessionGone
	}
	snap, err := s.rbac.Snapshot(ctx)
	if err != nil {
		return nil, "", nil, time.Time{}, FromAppErr(err)
	}
	roles, perms := snap.Resolve(u.Roles, u.Groups)
	scopes := sess.Scope
	if len(requested) > 0 { // RFC 6749 §6: a refresh may narrow, never widen
		for _, r := range requested {
			if !slices.Contains(sess.Scope, r) {
				return nil, "", nil, time.Time{}, oerr(400, ErrInvalidScope, "scope "+clip(r)+" was not granted to this session")
			}
		}
		scopes = requested
	}
	// The session keeps its granted ceiling; the token carries what the user
	// may still do now (roles may have shrunk since sign-in).
	view := *sess
	view.Scope = append(rbac.Intersect(perms, permissionsOf(scopes)), oidcOnly(scopes)...)
	slices.Sort(view.Scope)
	next = newRefreshToken(sess.ID, fam.Token.Generation+1)
	if resp, err = s.respond(u, clientID, &view, roles, next, now); err != nil {
		return nil, "", nil, time.Time{}, FromAppErr(err)
	}
	if sealed, err = s.sealSuccessor(presented, resp); err != nil {
		return nil, "", nil, time.Time{}, FromAppErr(err)
	}
	return resp, next, sealed, sess.ExpiresAt, nil
}

var errRetryReplay = errors.New("oauth: concurrent refresh; replay the successor")

func oidcOnly(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if slices.Contains(oidcScopes, s) {
			out = append(out, s)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (s *Service) sealSuccessor(token string, resp *TokenResponse) ([]byte, error) {
	key, err := successorKey(token)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(resp) // #nosec G117 -- sealed on the next line, never stored or logged in clear
	if err != nil {
		return nil, err
	}
	return secret.SealWithKey(key, b, "refresh successor")
}

// replay returns the successor response of a token rotated within the grace,
// provided its session is still live and belongs to the client.
func (s *Service) replay(ctx context.Context, tok *RefreshToken, token, clientID string) (*TokenResponse, bool) {
	if tok.Successor == nil {
		return nil, false
	}
	sess, err := s.store.GetSession(ctx, tok.SessionID)
	if err != nil {
		return nil, false
	}
	return s.replayFor(sess, tok, token, clientID)
}

// replayFor is replay with tok's session already read.
func (s *Service) replayFor(sess *Session, tok *RefreshToken, token, clientID string) (*TokenResponse, bool) {
	if tok.Successor == nil || sess.RevokedAt != nil || sess.ClientID != clientID || !s.now().Before(sess.ExpiresAt) {
		return nil, false
	}
	key, err := successorKey(token)
	if err != nil {
		return nil, false
	}
	b, err := secret.OpenWithKey(key, tok.Successor, "refresh successor")
	if err != nil {
		return nil, false
	}
	var resp TokenResponse
	if json.Unmarshal(b, &resp) != nil {
		return nil, false
	}
	return &resp, true
}

func (s *Service) clientCredentialsGrant(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	if req.ClientID == "" {
		return nil, InvalidClient("client authentication is required")
	}
	client, err := s.AuthenticateClient(ctx, req.ClientID, req.ClientSecret, false)
	if err != nil {
		return nil, err
	}
	if client.Type != ClientConfidential || !slices.Contains(client.GrantTypes, GrantClientCredentials) {
		return nil, UnauthorizedClient("this client may not use the client_credentials grant")
	}
	requested, err := ParseScope(req.Scope)
	if err != nil {
		return nil, err
	}
	aud, err := s.audience(req.Resource)
	if err != nil {
		return nil, err
	}
	scopes := grantScope(permissionsOf(requested), client.Scopes, client.Scopes)
	now := s.now().UTC()
	at, err := s.mintAccess(mintInput{Subject: client.ID, ClientID: client.ID, Scopes: scopes, Audience: aud, Now: now})
	if err != nil {
		return nil, FromAppErr(err)
	}
	ctx = audit.WithActor(ctx, audit.Ref{Type: audit.TypeClient, ID: client.ID})
	ev := audit.Event{Action: "token.issued", Target: audit.Ref{Type: audit.TypeClient, ID: client.ID},
		Metadata: map[string]any{"grant_type": GrantClientCredentials, "scope": scopes}}
	record := s.audit.Record
	if s.batch != nil { // no state changed: the event may join a batch
		record = s.batch.Record
	}
	if err := record(ctx, ev); err != nil {
		return nil, FromAppErr(err)
	}
	return &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(s.opts.AccessTTL / time.Second), Scope: joinScope(scopes)}, nil
}
