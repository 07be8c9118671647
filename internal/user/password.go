package user

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// HashParams are argon2id parameters (RFC 9106). The defaults follow OWASP:
// m=19456 KiB, t=2, p=1.
type HashParams struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultHashParams returns m=19456 KiB, t=2, p=1.
func DefaultHashParams() HashParams {
	return HashParams{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}
}

const (
	saltLen = 16
	keyLen  = 32
	// Bounds on parameters read from stored (possibly imported) hashes, so a
	// crafted hash cannot make one verification cost gigabytes or minutes.
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 16
	// bcryptMaxBytes: bcrypt silently ignores bytes past 72, so such
	// passwords never verify against a bcrypt hash (SPEC §15).
	bcryptMaxBytes = 72
	// maxBcryptCost bounds imported bcrypt hashes the same way: cost 16 is
	// a few seconds of CPU; cost 31 would hold a hashing worker for days.
	maxBcryptCost = 16
)

// argon2ParamsRE is the exact PHC parameter segment (no signs, spaces or leading zeros).
var argon2ParamsRE = regexp.MustCompile(`^m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,2})$`)

// ErrUnknownHash is returned for a stored hash Gatehouse cannot verify.
var ErrUnknownHash = errors.New("user: unknown password hash format")

func hashArgon2id(password string, p HashParams) string {
	salt := secret.RandomBytes(saltLen)
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

type phc struct {
	params HashParams
	salt   []byte
	key    []byte
}

// parseArgon2id parses a PHC argon2id string, bounding its parameters.
func parseArgon2id(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, ErrUnknownHash
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return phc{}, fmt.Errorf("%w: unsupported argon2 version", ErrUnknownHash)
	}
	pm := argon2ParamsRE.FindStringSubmatch(parts[3])
	if pm == nil {
		return phc{}, fmt.Errorf("%w: bad argon2 parameters", ErrUnknownHash)
	}
	m64, err1 := strconv.ParseUint(pm[1], 10, 32)
	t64, err2 := strconv.ParseUint(pm[2], 10, 32)
	p64, err3 := strconv.ParseUint(pm[3], 10, 8)
	if err1 != nil || err2 != nil || err3 != nil {
		return phc{}, fmt.Errorf("%w: argon2 parameters out of bounds", ErrUnknownHash)
	}
	m, t, p := uint32(m64), uint32(t64), uint8(p64)
	if m < 8 || m > maxMemoryKiB || t < 1 || t > maxIterations || p < 1 {
		return phc{}, fmt.Errorf("%w: argon2 parameters out of bounds", ErrUnknownHash)
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 128 {
		return phc{}, fmt.Errorf("%w: bad argon2 salt or key", ErrUnknownHash)
	}
	return phc{params: HashParams{MemoryKiB: m, Iterations: t, Parallelism: p}, salt: salt, key: key}, nil
}

// IsBcrypt reports whether h is a bcrypt hash ($2a$, $2b$ or $2y$).
func IsBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// ValidHash reports whether h is a hash Gatehouse can verify (for import).
func ValidHash(h string) error {
	if IsBcrypt(h) {
		return bcryptCost(h)
	}
	_, err := parseArgon2id(h)
	return err
}

func bcryptCost(h string) error {
	c, err := bcrypt.Cost([]byte(h))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnknownHash, err)
	}
	if c > maxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d is over %d", ErrUnknownHash, c, maxBcryptCost)
	}
	return nil
}

// verifyHash checks password against a stored hash in constant time and says
// whether the hash should be replaced by one under the current parameters.
func verifyHash(password, stored string, current HashParams) (ok, rehash bool, err error) {
	if IsBcrypt(stored) {
		if len(password) > bcryptMaxBytes {
			return false, false, nil
		}
		if err := bcryptCost(stored); err != nil {
			return false, false, err
		}
		err := bcrypt.CompareHashAndPassword([]byte(stored), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("%w: %v", ErrUnknownHash, err)
		}
		return true, true, nil
	}
	h, err := parseArgon2id(stored)
	if err != nil {
		return false, false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, uint32(len(h.key))) // #nosec G115 -- len bounded to 128 by parseArgon2id
	if subtle.ConstantTimeCompare(key, h.key) != 1 {
		return false, false, nil
	}
	return true, h.params != current, nil
}

// Hasher hashes and verifies passwords in a bounded pool: at most Workers
// hashes run at once and at most Queue more wait. A request beyond that is
// refused at once with an Unavailable error (503 with Retry-After) instead
// of queueing without bound or exhausting memory (SPEC §4).
type Hasher struct {
	params  HashParams
	running chan struct{} // capacity workers
	waiting chan struct{} // capacity workers+queue: admission
	dummy   string        // a hash under params of a random password
	// OnRefuse, when set, is called for each refusal (metrics).
	OnRefuse func()
	// AdmitWait is how long a request that finds the pool and its queue
	// full may wait for a place before it is refused; 0 refuses at once.
	// A place that frees up then goes to a waiter instead of to whichever
	// client happens to retry first, and refused clients retry a few times
	// a second instead of thousands: the refusals stop taking the CPU the
	// hashes need (docs/benchmarks.md). At most maxAdmitWaitersPerPlace ×
	// (workers + queue) wait.
	AdmitWait time.Duration
	// BeforeHash, when set, runs on the worker before each hash (the
	// server collects garbage there, so the finished hashes' work areas are
	// reused instead of piling up or being faulted back in).
	BeforeHash   func()
	admitWaiters atomic.Int64
	hashed       atomic.Uint64
}

// maxAdmitWaitersPerPlace bounds the requests waiting for a place in the
// pool (AdmitWait) per place: each holds only a goroutine and its parsed
// request, a few KiB.
const maxAdmitWaitersPerPlace = 16

// NewHasher returns a pool of workers hashing with params and room for queue waiting requests.
func NewHasher(params HashParams, workers, queue int) *Hasher {
	if workers < 1 {
		workers = 1
	}
	if queue < 0 {
		queue = 0
	}
	return &Hasher{
		params:  params,
		running: make(chan struct{}, workers),
		waiting: make(chan struct{}, workers+queue),
		dummy:   hashArgon2id(secret.Token(), params),
	}
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() HashParams { return h.params }

// QueueDepth returns how many requests are hashing or waiting.
func (h *Hasher) QueueDepth() int { return len(h.waiting) }

// AdmitWaiting returns how many requests wait for a place (AdmitWait).
func (h *Hasher) AdmitWaiting() int { return int(h.admitWaiters.Load()) }

// Ticket is a place in the pool taken ahead of the work, so a caller can
// refuse early (before any database work) when the pool is full. Use it
// once, with Verify, or Release it.
type Ticket struct {
	h    *Hasher
	done bool
}

// Admit takes a place in the pool, waiting up to AdmitWait for one when the
// pool and its queue are full, or refuses with an Unavailable error (503
// with Retry-After).
func (h *Hasher) Admit(ctx context.Context) (*Ticket, error) {
	select {
	case h.waiting <- struct{}{}:
		return &Ticket{h: h}, nil
	default:
	}
	if h.AdmitWait > 0 && h.admitWaiters.Add(1) <= int64(maxAdmitWaitersPerPlace*cap(h.waiting)) {
		t, ok := h.admitWithin(ctx)
		h.admitWaiters.Add(-1)
		if ok {
			return t, nil
		}
	} else if h.AdmitWait > 0 {
		h.admitWaiters.Add(-1)
	}
	if h.OnRefuse != nil {
		h.OnRefuse()
	}
	return nil, apperr.Unavailable(apperr.CodeHashPoolFull, time.Second, "too many sign-ins at once; retry shortly")
}

func (h *Hasher) admitWithin(ctx context.Context) (*Ticket, bool) {
	timer := time.NewTimer(h.AdmitWait)
	defer timer.Stop()
	select {
	case h.waiting <- struct{}{}:
		return &Ticket{h: h}, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, false
}

// Release gives the place back unused (no-op after Verify).
func (t *Ticket) Release() {
	if !t.done {
		t.done = true
		<-t.h.waiting
	}
}

// Verify is Hasher.Verify on the place the ticket holds; it spends the ticket.
func (t *Ticket) Verify(ctx context.Context, password, stored string) (ok, rehash bool, err error) {
	if t.done {
		return false, false, errors.New("user: hashing ticket used twice")
	}
	defer t.Release()
	return t.h.verifyAdmitted(ctx, password, stored)
}

func (h *Hasher) do(ctx context.Context, fn func()) error {
	t, err := h.Admit(ctx)
	if err != nil {
		return err
	}
	defer t.Release()
	return h.run(ctx, fn)
}

// run waits for a worker (the caller holds a place) and runs fn.
func (h *Hasher) run(ctx context.Context, fn func()) error {
	select {
	case h.running <- struct{}{}:
	case <-ctx.Done():
		return apperr.Unavailable(apperr.CodeUnavailable, time.Second, "request cancelled while waiting").WithCause(ctx.Err())
	}
	defer func() { <-h.running }()
	if h.BeforeHash != nil {
		h.BeforeHash()
	}
	fn()
	h.hashed.Add(1)
	return nil
}

// Hashed returns how many hashes the pool has run since it started.
func (h *Hasher) Hashed() uint64 { return h.hashed.Load() }

// Hash returns the argon2id PHC string of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var out string
	err := h.do(ctx, func() { out = hashArgon2id(password, h.params) })
	return out, err
}

// Verify checks password against stored. An empty stored hash (a pending
// user, an unknown user) is checked against a dummy hash at the same cost,
// so timing says nothing about whether the account exists.
func (h *Hasher) Verify(ctx context.Context, password, stored string) (ok, rehash bool, err error) {
	t, err := h.Admit(ctx)
	if err != nil {
		return false, false, err
	}
	return t.Verify(ctx, password, stored)
}

func (h *Hasher) verifyAdmitted(ctx context.Context, password, stored string) (ok, rehash bool, err error) {
	dummy := stored == ""
	if dummy {
		stored = h.dummy
	}
	var verr error
	if err := h.run(ctx, func() { ok, rehash, verr = verifyHash(password, stored, h.params) }); err != nil {
		return false, false, err
	}
	if dummy {
		return false, false, nil
	}
	return ok, rehash, verr
}
