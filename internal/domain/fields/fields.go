// Package fields holds the rule of every input field, once: the HTTP API
// checks requests with it at the edge, and the workflow's validators check
// the same inputs with it again, so nothing invalid reaches a history or a
// database (a NUL byte that Postgres refuses would stall a step forever).
// Rules are pure functions with no I/O, safe to call from workflow code.
package fields

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Error is a refused field: the API answers it as a 422 naming Field, the
// workflow as a validation error with Field as its detail.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func refuse(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limits of free-text fields, in characters.
const (
	NicknameMax          = 100
	CustomerNameMax      = 200
	ResellerPartnerIDMax = 64
)

// Limits are the fields' lengths, as forms show them (maxlength).
type Limits struct{ Nickname, CustomerName, ResellerPartnerID int }

// FormLimits are the limits of this file, for the console's forms.
var FormLimits = Limits{Nickname: NicknameMax, CustomerName: CustomerNameMax, ResellerPartnerID: ResellerPartnerIDMax}

// CleanText reports whether s is text a person could have typed: valid
// UTF-8 without control characters (NUL, escapes, line breaks) or
// Unicode noncharacters and replacement characters left by bad encodings.
func CleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError || (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
			return false
		}
	}
	return true
}

// text checks a free-text field of at most max characters and returns it
// as it is stored: trimmed, in Unicode NFC, so that "é" typed as one
// character or as e and a combining accent is the same name (searches,
// comparisons and "did it change" agree).
func text(field, s string, min, max int) (string, *Error) {
	s = strings.TrimSpace(s)
	if !CleanText(s) {
		return s, refuse(field, "must be plain text: no control characters or invalid UTF-8")
	}
	s = norm.NFC.String(s)
	if n := utf8.RuneCountInString(s); n < min || n > max {
		if min > 0 {
			return s, refuse(field, "must be %d to %d characters", min, max)
		}
		return s, refuse(field, "must be at most %d characters", max)
	}
	return s, nil
}

// Nickname is a subscription's display name, trimmed; "" clears it.
func Nickname(s string) (string, *Error) { return text("nickname", s, 0, NicknameMax) }

// CustomerName is a customer's name, trimmed and required.
func CustomerName(s string) (string, *Error) { return text("name", s, 1, CustomerNameMax) }

var resellerIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,` + strconv.Itoa(ResellerPartnerIDMax) + `}$`)

// ResellerPartnerID is an indirect reseller's PartnerID; "" clears it.
func ResellerPartnerID(s string) *Error {
	if s != "" && !resellerIDPattern.MatchString(s) {
		return refuse("resellerPartnerId", "must be 1 to %d letters, digits or dashes", ResellerPartnerIDMax)
	}
	return nil
}

// Quantity checks a licence count against a plan's bounds, both included.
func Quantity(q, min, max int, planID string) *Error {
	if q < min || q > max {
		return refuse("quantity", "must be from %d to %d for plan %s", min, max, planID)
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ID reports whether s has the shape of an identifier of this product or
// of its catalog (customers, subscriptions, offers, plans, publishers):
// anything else names nothing and is refused before any query.
func ID(s string) bool { return idPattern.MatchString(s) }

// Identifier checks an id-valued field.
func Identifier(field, s string) *Error {
	if !ID(s) {
		return refuse(field, "must be an id: 1 to 100 letters, digits, dots, dashes or underscores")
	}
	return nil
}

var tokenPattern = regexp.MustCompile(`^[\x21-\x7e]+$`)

// Token checks an opaque value chosen by a client (event ids, idempotency
// keys, authorization codes): 1 to max printable ASCII characters.
func Token(field, s string, max int) *Error {
	if len(s) == 0 || len(s) > max || !tokenPattern.MatchString(s) {
		return refuse(field, "must be 1 to %d printable ASCII characters", max)
	}
	return nil
}

// Token lengths.
const (
	EventIDMax           = 200
	IdempotencyKeyMax    = 255
	AuthorizationCodeMax = 200
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// UUID reports whether s is a UUID in its canonical lower-case text
// (Microsoft's subscription and operation ids).
func UUID(s string) bool { return uuidPattern.MatchString(s) }
