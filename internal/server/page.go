package server

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Lists page as SPEC §9 says: ?limit= (1..200, default 50) and ?cursor=,
// answered with {"items":[…],"next_cursor":…}, next_cursor null on the last
// page. A cursor is opaque to clients: the base64url of the sort key of the
// last item of the page before.

var errBadCursor = apperr.Invalid(apperr.CodeInvalidCursor, "the cursor is not one this server gave").WithField("cursor", "invalid")

// pageParams reads ?limit= (1..200, default 50) and ?cursor=, returning the
// sort key the cursor carries ("" for the first page). Invalid (422) for a
// limit out of range and for a cursor this server could not have given.
func pageParams(r *http.Request) (limit int, after string, err error) {
	limit = 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return 0, "", apperr.InvalidField("limit", "must be a whole number from 1 to 200")
		}
		limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) > 512 {
			return 0, "", errBadCursor
		}
		after = string(b)
	}
	return limit, after, nil
}

// cursorOf is the cursor of sort key s.
func cursorOf(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// createdPageParams is pageParams for a list ordered by creation time, then
// id: the cursor's sort key is createdKey's. afterID is "" for the first page.
func createdPageParams(r *http.Request) (limit int, afterCreated time.Time, afterID string, err error) {
	limit, after, err := pageParams(r)
	if err != nil || after == "" {
		return limit, time.Time{}, "", err
	}
	us, id, ok := strings.Cut(after, ":")
	n, perr := strconv.ParseInt(us, 10, 64)
	if !ok || perr != nil || id == "" {
		return 0, time.Time{}, "", errBadCursor
	}
	return limit, time.UnixMicro(n).UTC(), id, nil
}

// createdKey is the sort key of an item created at t with id: the store
// keeps times to the microsecond on both engines, so the key is exact.
func createdKey(t time.Time, id string) string {
	return strconv.FormatInt(t.UnixMicro(), 10) + ":" + id
}

// nextPage cuts items, read with a limit of limit+1, to limit and returns
// the cursor of the next page: nil when items held no more than limit.
func nextPage[T any](items []T, limit int, key func(T) string) ([]T, *string) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	c := cursorOf(key(items[limit-1]))
	return items, &c
}
