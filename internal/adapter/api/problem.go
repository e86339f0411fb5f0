package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/fields"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
)

// Problem is an RFC 9457 problem detail with the contract's stable code.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Detail    string `json:"detail"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	writeProblemField(w, r, status, code, "", detail)
}

func writeProblemField(w http.ResponseWriter, r *http.Request, status int, code, field, detail string) {
	p := Problem{
		Type: "https://docs.cspmarket.example/problems/" + code, Title: http.StatusText(status), Status: status,
		Code: code, Detail: detail, Field: field, RequestID: requestID(r),
	}
	metrics.NoteProblem(r.Context(), code)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// validationError is a 422 about one field of the request.
type validationError struct {
	field, detail string
}

func (e *validationError) Error() string { return e.field + ": " + e.detail }

func invalid(field, format string, args ...any) error {
	return &validationError{field: field, detail: fmt.Sprintf(format, args...)}
}

// tooLargeError is a body over maxBodyBytes: 413.
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the body is larger than %d bytes", e.limit)
}

// decodeJSON reads a request body strictly: unknown fields, a key given
// twice, trailing data and wrong types are 422s that name the field, never
// 500s.
func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonProblem(err)
	}
	return decodeJSONBytes(b, v)
}

// decodeJSONBytes is decodeJSON for a body already read (signed requests).
func decodeJSONBytes(b []byte, v any) error {
	if err := refuseDuplicateKeys(b); err != nil {
		return err
	}
	return decodeStrict(bytes.NewReader(b), v)
}

// refuseDuplicateKeys answers 422 for an object that names a key twice, at
// any depth. encoding/json would keep the last one silently, so a body
// read one way by a proxy, a log or a signature check could be applied
// another way here ({"status":"cancelled", ..., "status":"active"}). Keys
// are compared as encoding/json matches them to fields: without case
// ({"status":"Failure","Status":"Success"} is the same field twice).
// Malformed JSON is left to the decoder, which says where it breaks.
func refuseDuplicateKeys(b []byte) error {
	type frame struct {
		keys    map[string]bool // nil for an array
		path    string
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	var lastKey string
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed: the decoder's to say
		}
		var top *frame
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.keys != nil && top.wantKey {
			path := key
			if top.path != "" {
				path = top.path + "." + key
			}
			folded := foldKey(key)
			if top.keys[folded] {
				return invalid(path, "is given twice; send each field once (names are matched without case)")
			}
			top.keys[folded] = true
			top.wantKey = false
			lastKey = path
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			path := ""
			if top != nil {
				path = top.path
				if top.keys != nil {
					path = lastKey
				}
			}
			f := &frame{path: path}
			if tok == json.Delim('{') {
				f.keys, f.wantKey = map[string]bool{}, true
			}
			stack = append(stack, f)
		case json.Delim('}'), json.Delim(']'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

func decodeStrict(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return &tooLargeError{limit: maxErr.Limit}
		}
		return invalid("", "the body must hold exactly one JSON object")
	}
	return nil
}

// idempotencyKey reads the optional Idempotency-Key header, answering 422
// when it is malformed.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return "", true
	}
	if refused := fields.Token("Idempotency-Key", key, fields.IdempotencyKeyMax); refused != nil {
		writeProblemField(w, r, http.StatusUnprocessableEntity, "validation_failed", refused.Field, refused.Message)
		return "", false
	}
	return key, true
}

func jsonProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &typeErr):
		return invalid(typeErr.Field, "must be a JSON %s", typeErr.Type.Kind())
	case errors.As(err, &syntaxErr):
		return invalid("", "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.As(err, &maxErr):
		return &tooLargeError{limit: maxErr.Limit}
	case errors.Is(err, io.EOF):
		return invalid("", "the body is empty; a JSON object is required")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	default:
		return invalid("", "malformed JSON: %v", err)
	}
}

// writeError turns an error into its problem: validation errors are 422,
// anything unexpected is a logged 500 whose detail leaks nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var v *validationError
	if errors.As(err, &v) {
		writeProblemField(w, r, http.StatusUnprocessableEntity, "validation_failed", v.field, v.detail)
		return
	}
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "body_too_large", tooLarge.Error())
		return
	}
	var refused *fields.Error
	if errors.As(err, &refused) {
		writeProblemField(w, r, http.StatusUnprocessableEntity, "validation_failed", refused.Field, refused.Message)
		return
	}
	if store.Unavailable(err) && r.Context().Err() == nil {
		// The database is held up or restarting: nothing is wrong with the
		// request, which can be sent again as it is.
		s.Logger.Warn("database unavailable", "requestId", requestID(r), "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "database_unavailable", "The database is unavailable for a moment; retry the request.")
		return
	}
	if r.Context().Err() != nil {
		// The client hung up (whatever error that made: the SDK's wait for
		// an update does not wrap context.Canceled); what it asked for goes
		// on (a workflow is durable) and there is no one left to answer:
		// not a server error (counted as 499, client closed request).
		s.Logger.Info("client went away", "requestId", requestID(r), "method", r.Method, "path", r.URL.Path)
		return
	}
	s.Logger.Error("request failed", "requestId", requestID(r), "method", r.Method, "path", r.URL.Path, "error", err)
	writeProblem(w, r, http.StatusInternalServerError, "internal", "An internal error occurred; it has been logged.")
}

// foldKey is a key with every letter replaced by the least of its case
// folds (Unicode simple folding, as strings.EqualFold and encoding/json's
// field matching compare: "Status", "STATUS" and "status" are one key, and
// so are the Kelvin sign and "k").
func foldKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
