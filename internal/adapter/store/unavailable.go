package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/uptrace/bun/driver/pgdriver"
)

// Unavailable reports whether err means the database could not be reached
// or is held up (a stall, a restart, cut connections), rather than that the
// request was wrong: callers answer 503 with Retry-After, and the request
// can be sent again as it is.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var pgErr pgdriver.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		code := pgErr.Field('C')
		// FATAL: the backend is gone; 08: connection exceptions; 53:
		// insufficient resources; 57P: operator intervention (shutdown,
		// terminated backend, cannot connect now); 40001/40P01:
		// serialization failure, deadlock, which a retry resolves.
		return pgErr.Field('V') == "FATAL" || strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") ||
			strings.HasPrefix(code, "57P") || code == "40001" || code == "40P01"
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
