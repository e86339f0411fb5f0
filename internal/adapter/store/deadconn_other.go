//go:build !unix

package store

import (
	"context"

	"github.com/uptrace/bun/driver/pgdriver"
)

// dropDeadIdleConn checks nothing where the socket cannot be peeked at:
// a connection cut while idle then fails one query (503, retried).
func dropDeadIdleConn(context.Context, *pgdriver.Conn) error { return nil }
