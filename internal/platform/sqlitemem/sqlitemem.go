// Package sqlitemem gives SQLite, as this process runs it
// (modernc.org/sqlite: the app's database and the embedded Temporal
// server's), an allocator that keeps the blocks it frees for reuse.
//
// SQLite's default allocator here is modernc.org/memory, which maps 64 KiB
// pages and unmaps a page as soon as its last block is freed, and maps and
// unmaps every block over 16 KiB on its own. SQLite frees and allocates
// the same sizes again at every statement (its statement journal's 1 KiB
// chunks, a prepared statement's program), so under load most of that
// time went to mmap and munmap: 12 % of the embedded default's processor
// time, a TLB flush at each munmap (docs/performance.md). Here a freed
// block goes to a free list of its size class instead, up to CacheMax
// bytes in all, and the next allocation of that class takes it back.
//
// Importing the package installs the allocator, before any connection
// is opened (SQLite takes its allocator when it initialises).
package sqlitemem

import (
	"fmt"
	"math/bits"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// CacheMax bounds the bytes kept in the free lists: what SQLite frees
// beyond it goes back to the system.
const CacheMax = 16 << 20

// Size classes: 32 bytes, then four classes per doubling up to 1 MiB (a
// block wastes at most a fifth of itself); larger blocks are not kept.
const (
	minClassLog = 5
	maxClassLog = 20
	classCount  = 1 + (maxClassLog-minClassLog)*4
	// header precedes every block: its class, or for a large block
	// largeClass and its size. 16 bytes keep SQLite's blocks 16-aligned.
	header     = 16
	largeClass = 0xff
)

// classOf is the class of a block of size bytes (header included) and
// the size a block of that class has.
func classOf(size uintptr) (int, uintptr) {
	if size <= 1<<minClassLog {
		return 0, 1 << minClassLog
	}
	log := bits.Len64(uint64(size - 1)) // 2^(log-1) < size <= 2^log
	if log > maxClassLog {
		return largeClass, size
	}
	step := uintptr(1) << (log - 3) // a quarter of 2^(log-1)
	n := (size + step - 1) / step   // 5 to 8 quarters
	return 1 + (log-1-minClassLog)*4 + int(n-5), n * step
}

// classSize is the size of a block of class c, header included.
func classSize(c int) uintptr {
	if c == 0 {
		return 1 << minClassLog
	}
	c--
	base := uintptr(1) << (minClassLog + c/4)
	return base + base/4*uintptr(c%4+1)
}

var (
	mu     sync.Mutex
	free   [classCount]uintptr // heads of the free lists, linked through each block's first word after its header
	cached uintptr             // bytes in the free lists
	stats  Stats
)

// Stats counts what the allocator did since the process started.
type Stats struct {
	Allocations int64 // blocks SQLite asked for
	Reused      int64 // of them, taken from a free list
	CachedBytes int64 // bytes in the free lists now
}

// Snapshot returns the counters.
func Snapshot() Stats {
	mu.Lock()
	defer mu.Unlock()
	s := stats
	s.CachedBytes = int64(cached)
	return s
}

// word is the machine word at address p, in memory SQLite's allocator
// got from libc (outside Go's heap: never moved or collected).
func word(p uintptr) *uintptr { return *(**uintptr)(unsafe.Pointer(&p)) }

func xMalloc(tls *libc.TLS, n int32) uintptr {
	if n < 0 {
		return 0
	}
	c, size := classOf(uintptr(n) + header)
	mu.Lock()
	stats.Allocations++
	if c != largeClass {
		if p := free[c]; p != 0 {
			free[c] = *word(p + header)
			cached -= size
			stats.Reused++
			mu.Unlock()
			return p + header
		}
	}
	mu.Unlock()
	p := libc.Xmalloc(tls, libc.Tsize_t(size))
	if p == 0 {
		return 0
	}
	*word(p) = uintptr(c)
	*word(p + 8) = size
	return p + header
}

func xFree(tls *libc.TLS, block uintptr) {
	p := block - header
	c := int(*word(p))
	size := *word(p + 8)
	if c != largeClass {
		mu.Lock()
		if cached+size <= CacheMax {
			*word(block) = free[c]
			free[c] = p
			cached += size
			mu.Unlock()
			return
		}
		mu.Unlock()
	}
	libc.Xfree(tls, p)
}

// xSize is the usable size of a block, which SQLite may use whole.
func xSize(_ *libc.TLS, block uintptr) int32 {
	return int32(*word(block - header + 8) - header)
}

func xRealloc(tls *libc.TLS, block uintptr, n int32) uintptr {
	if n < 0 {
		return 0
	}
	have := uintptr(xSize(tls, block))
	if c, _ := classOf(uintptr(n) + header); c != largeClass && uintptr(n) <= have && classSize(c) == have+header {
		return block // the same class: nothing to move
	}
	q := xMalloc(tls, n)
	if q == 0 {
		return 0
	}
	libc.Xmemcpy(tls, q, block, libc.Tsize_t(min(have, uintptr(n))))
	xFree(tls, block)
	return q
}

// xRoundup is the size SQLite gets for an allocation of n bytes.
func xRoundup(_ *libc.TLS, n int32) int32 {
	_, size := classOf(uintptr(n) + header)
	return int32(size - header)
}

func xInit(*libc.TLS, uintptr) int32 { return sqlite3.SQLITE_OK }
func xShutdown(*libc.TLS, uintptr)   {}

// cFunc makes a C function pointer of a Go function, as modernc.org's
// generated code calls one (golang.org/s/go11func): the address of the
// function value's code pointer, which for a top-level function is
// static.
func cFunc[T any](f T) uintptr { return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f})) }

var methods = sqlite3.Tsqlite3_mem_methods{
	FxMalloc:   cFunc(xMalloc),
	FxFree:     cFunc(xFree),
	FxRealloc:  cFunc(xRealloc),
	FxSize:     cFunc(xSize),
	FxRoundup:  cFunc(xRoundup),
	FxInit:     cFunc(xInit),
	FxShutdown: cFunc(xShutdown),
}

func init() {
	if err := install(); err != nil {
		panic(err)
	}
}

// install hands SQLite the allocator. SQLite copies the methods, and
// accepts them only before it initialises: nothing has opened a
// connection while packages initialise.
func install() error {
	tls := libc.NewTLS()
	defer tls.Close()
	args := tls.Alloc(16)
	defer tls.Free(16)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_MALLOC, libc.VaList(args, uintptr(unsafe.Pointer(&methods)))); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlitemem: sqlite3_config(SQLITE_CONFIG_MALLOC) = %d (was SQLite initialised before this package?)", rc)
	}
	return nil
}
