package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// validator is implemented by request types that check themselves after decoding.
type validator interface{ Valid() error }

// decode reads one JSON value of type T from the body: at most the body
// limit, unknown fields refused, trailing data refused, then Valid() when T
// has it. A Content-Type other than JSON is a 415; no Content-Type is read
// as JSON. Every failure is a 400, 413, 415 or 422 problem, never a 500.
func decode[T any](r *http.Request) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return v, errNotJSON(r.Method)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return v, decodeError(err)
		}
		return v, apperr.Malformed(apperr.CodeMalformedJSON, "the body must hold exactly one JSON value")
	}
	if val, ok := any(&v).(validator); ok {
		if err := val.Valid(); err != nil {
			return v, err
		}
	}
	return v, nil
}

// errNotJSON is the 415 of RFC 9110 §15.5.16, with Accept naming what the
// endpoint takes, and Accept-Post (W3C LDP) or Accept-Patch (RFC 5789 §3.1)
// for those methods.
func errNotJSON(method string) error {
	e := apperr.UnsupportedMediaType(apperr.CodeUnsupportedMedia, "the body must be application/json")
	e.Headers = map[string]string{"Accept": "application/json"}
	switch method {
	case http.MethodPost:
		e.Headers["Accept-Post"] = "application/json"
	case http.MethodPatch:
		e.Headers["Accept-Patch"] = "application/json"
	}
	return e
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return apperr.TooLarge(apperr.CodeBodyTooLarge, "the body is over the %d-byte limit", mbe.Limit)
	case errors.Is(err, io.EOF):
		return apperr.Malformed(apperr.CodeMalformedJSON, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Malformed(apperr.CodeMalformedJSON, "the body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		return apperr.Malformed(apperr.CodeMalformedJSON, "invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return apperr.Malformed(apperr.CodeMalformedJSON, "field %s must be %s", clipField(field), jsonKind(typ.Type.Kind().String())).WithField(clipField(field), "wrong type")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return apperr.Malformed(apperr.CodeMalformedJSON, "unknown field %s", clipField(name))
	}
	return apperr.Malformed(apperr.CodeMalformedJSON, "the body is not valid JSON for this endpoint")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

func clipField(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// writeJSON writes v with status and content type.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		slog.Error("encode response", "err", err)
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// bufPool recycles response buffers (responses are small; a rare big one
// is dropped rather than kept).
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encode writes v as application/json.
func encode(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, "application/json", v)
}
