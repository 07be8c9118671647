// Package oauth is Gatehouse's OAuth 2.0 and OpenID Connect core: clients,
// grants, sessions (refresh-token families) with rotation and reuse
// detection, signing keys and their rotation, access-token minting and
// verification, and revocation.
package oauth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/user"
)

// ClientType is public (no secret) or confidential.
type ClientType string

// The client types of RFC 6749 §2.1.
const (
	ClientPublic       ClientType = "public"
	ClientConfidential ClientType = "confidential"
)

// Grant types.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantMFAOTP            = "urn:gatehouse:grant-type:mfa-otp"
)

// BuiltInClientID is the first-party public client used by the password
// grant when a request names no client.
const BuiltInClientID = "gatehouse"

// Client is an OAuth client. SecretHash is secret.Hash of the client secret
// (256 random bits, so a fast hash is right; compared in constant time).
type Client struct {
	ID           string
	Name         string
	Type         ClientType
	SecretHash   string
	GrantTypes   []string
	RedirectURIs []string
	Scopes       []string // the scopes (permissions) the client may carry; ["*"] for all of the user's
	BuiltIn      bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Session is one sign-in: a refresh-token family. Its id is the `sid` claim of
// every access token minted from it.
type Session struct {
	ID            string // ses_…
	UserID        string
	ClientID      string
	Scope         []string
	Audience      []string
	AuthTime      time.Time
	AMR           []string
	CreatedAt     time.Time
	LastUsedAt    time.Time
	ExpiresAt     time.Time // absolute
	IdleExpiresAt time.Time // slides on every refresh
	RevokedAt     *time.Time
	RevokeReason  string
	IP            string
	UserAgent     string
	// CurrentHash is the hash of the one live refresh token of the family.
	CurrentHash string
	Generation  int
}

// RefreshToken is one member of a family, stored by hash. A rotated token
// keeps its successor response encrypted under a key derived from the token
// itself, for idempotent retries within the reuse grace.
type RefreshToken struct {
	Hash       string
	SessionID  string
	Generation int
	CreatedAt  time.Time
	RotatedAt  *time.Time
	Successor  []byte // sealed successor response; nil until rotated
}

// RefreshFamily is a refresh token with its session and the session's user,
// as the refresh grant reads them.
type RefreshFamily struct {
	Token   *RefreshToken
	Session *Session
	User    *user.User
}

// SigningKey is a JWT signing key. PrivateSealed is the private JWK sealed
// with the master key (ad "signing_key:<kid>"); PublicJWK is the public JWK JSON.
type SigningKey struct {
	KID           string
	Alg           string
	PrivateSealed string
	PublicJWK     []byte
	CreatedAt     time.Time
	// ActivatedAt is when the key started signing; nil while it is the next key.
	ActivatedAt *time.Time
	// RetiredAt is when it stopped signing; nil while next or current.
	RetiredAt *time.Time
	// ExpiresAt is when a retired key leaves the JWKS (every token it signed has expired).
	ExpiresAt *time.Time
}

// RevocationKind names what a revocation entry denies.
type RevocationKind string

// The kinds of revocation entry.
const (
	RevokeJTI     RevocationKind = "jti" // one access token
	RevokeSession RevocationKind = "sid" // every access token of a session
	RevokeSubject RevocationKind = "sub" // every token of a user issued at or before RevokedAt
)

// Revocation is a deny-list entry, kept until ExpiresAt (when every token it
// could match has expired). Seq orders entries so instances can poll for new ones.
type Revocation struct {
	Seq       int64
	Kind      RevocationKind
	Value     string
	RevokedAt time.Time
	ExpiresAt time.Time
}

// SessionAdvance is a refresh rotation's change to its session: when the
// session ID is unrevoked, belongs to ClientID, has expired neither
// absolutely nor by idleness at Now, and its current token is From, the
// current token becomes To, the generation goes up by one, LastUsedAt
// becomes Now and IdleExpiresAt IdleUntil. AdvanceSession then fills UserID
// and the new Generation.
type SessionAdvance struct {
	ID, ClientID, From, To string
	Now, IdleUntil         time.Time

	UserID     string // out
	Generation int    // out
}

// Store is what the oauth package needs from storage.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	// CreateClient inserts c; Conflict client_exists.
	CreateClient(ctx context.Context, c *Client) error
	// GetClient returns the client; NotFound client_not_found.
	GetClient(ctx context.Context, id string) (*Client, error)
	// ListClients returns every client, oldest first (by CreatedAt, ID).
	ListClients(ctx context.Context) ([]*Client, error)
	// ListClientsPage returns up to limit clients (every one when limit is
	// not positive), oldest first (by CreatedAt, ID), after the client
	// (afterCreated, afterID); afterID "" starts at the first.
	ListClientsPage(ctx context.Context, limit int, afterCreated time.Time, afterID string) ([]*Client, error)
	// UpdateClient replaces the client; NotFound client_not_found.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client; NotFound client_not_found.
	DeleteClient(ctx context.Context, id string) error

	// CreateSession inserts s and its first refresh token.
	CreateSession(ctx context.Context, s *Session, first *RefreshToken) error
	// GetSession returns the session; NotFound session_not_found.
	GetSession(ctx context.Context, id string) (*Session, error)
	// ListSessions returns the user's unrevoked, unexpired sessions, newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]*Session, error)
	// UpdateSession reads the session under a row lock, applies fn, and writes
	// it back. fn's error aborts and is returned as is. NotFound session_not_found.
	UpdateSession(ctx context.Context, id string, fn func(*Session) error) (*Session, error)
	// AdvanceSession rotates a live session's family in one conditional
	// write (see SessionAdvance) and reports whether it did; when not, it
	// changes nothing.
	AdvanceSession(ctx context.Context, a *SessionAdvance) (bool, error)
	// RevokeUserSessions marks every live session of the user revoked at now,
	// except the one with id except (may be ""), and returns the ids revoked.
	RevokeUserSessions(ctx context.Context, userID, except, reason string, now time.Time) ([]string, error)
	// GetRefreshFamily returns the token of that key with its session and
	// the session's user in one read; NotFound when the token is unknown.
	// A key that names a session finds the token stored at its session and
	// generation, and only if the stored hash equals the key's; one that
	// names none finds a token of the older form by its hash.
	GetRefreshFamily(ctx context.Context, k RefreshKey) (*RefreshFamily, error)
	// GetRefreshToken returns the token of that key, found as by
	// GetRefreshFamily; NotFound when unknown.
	GetRefreshToken(ctx context.Context, k RefreshKey) (*RefreshToken, error)
	// InsertRefreshToken stores a new family member, which must be found by
	// the session and generation its token names.
	InsertRefreshToken(ctx context.Context, t *RefreshToken) error
	// RotateRefreshToken records, in one write, the rotation of old (its
	// RotatedAt, equal to next.CreatedAt, and Successor set) by storing
	// next, the family's member of the following generation; old reads back
	// rotated. Internal when old is not stored (with its hash) at the
	// generation before next's, or next's generation is taken.
	RotateRefreshToken(ctx context.Context, old, next *RefreshToken) error
	// LastRefreshReplayID returns the id of the newest sealed successor
	// response (0 when none); ids only increase.
	LastRefreshReplayID(ctx context.Context) (int64, error)
	// DeleteRefreshReplays deletes at most limit sealed successor responses
	// with ids up to upto, oldest first, and returns how many; the tokens
	// stay, rotated, without their successor.
	DeleteRefreshReplays(ctx context.Context, upto int64, limit int) (int, error)
	// DeleteExpiredSessions removes sessions (and their tokens) that expired
	// or were revoked before cutoff, and returns how many.
	DeleteExpiredSessions(ctx context.Context, cutoff time.Time) (int, error)

	// ListSigningKeys returns every key not yet expired at now, oldest first.
	ListSigningKeys(ctx context.Context, now time.Time) ([]*SigningKey, error)
	// InsertSigningKey stores a new key.
	InsertSigningKey(ctx context.Context, k *SigningKey) error
	// UpdateSigningKey writes ActivatedAt, RetiredAt and ExpiresAt of the key.
	UpdateSigningKey(ctx context.Context, k *SigningKey) error
	// LockSigningKeys serializes rotations across instances (inside InTx).
	LockSigningKeys(ctx context.Context) error
	// ListSealedSigningKeys returns the kid (as ID) and sealed private key
	// of up to limit keys, expired ones included, with kids after afterKID,
	// by kid; inside a transaction they stay locked until it ends.
	ListSealedSigningKeys(ctx context.Context, afterKID string, limit int) ([]secret.Stored, error)
	// UpdateSigningKeySealed stores fresh as the sealed private key of kid
	// when it still is old; false when it is not (or there is no such key).
	UpdateSigningKeySealed(ctx context.Context, kid, old, fresh string) (bool, error)

	// InsertRevocation stores r and returns its Seq.
	InsertRevocation(ctx context.Context, r *Revocation) (int64, error)
	// ListRevocations returns entries with Seq > afterSeq that expire after now, by Seq.
	ListRevocations(ctx context.Context, afterSeq int64, now time.Time) ([]*Revocation, error)
	// DeleteExpiredRevocations removes entries that expired before now.
	DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error)
}
