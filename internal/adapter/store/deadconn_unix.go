//go:build unix

package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"syscall"

	"github.com/uptrace/bun/driver/pgdriver"
)

// dropDeadIdleConn discards a pooled Postgres connection whose server end
// has spoken or hung up while it sat idle (a terminated backend sends FATAL
// and closes): checking it out would fail the next query with that FATAL.
// It costs one non-blocking peek at the socket, no round trip.
func dropDeadIdleConn(_ context.Context, cn *pgdriver.Conn) error {
	c := cn.Conn()
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn() // TLS: peek at the socket beneath
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return driver.ErrBadConn
	}
	var n int
	var peekErr error
	var b [1]byte
	if err := raw.Read(func(fd uintptr) bool {
		n, _, peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait: an idle connection has nothing to read
	}); err != nil {
		return driver.ErrBadConn
	}
	switch {
	case errors.Is(peekErr, syscall.EAGAIN), errors.Is(peekErr, syscall.EWOULDBLOCK), errors.Is(peekErr, syscall.EINTR):
		return nil // alive and quiet
	case peekErr != nil, n >= 0:
		// Data waiting on an idle connection (the FATAL), or end of stream.
		return driver.ErrBadConn
	}
	return nil
}
