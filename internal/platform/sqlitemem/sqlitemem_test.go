package sqlitemem

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/libc"
	_ "modernc.org/sqlite"
)

// Every size falls in a class at least as large and at most a quarter
// larger (32 bytes at least), and classSize agrees with classOf.
func TestSizeClassesFitAndWasteLittle(t *testing.T) {
	prev := 0
	for size := uintptr(1); size <= 1<<maxClassLog; size += 1 + size/97 {
		c, got := classOf(size)
		require.NotEqual(t, largeClass, c, "size %d", size)
		require.GreaterOrEqual(t, got, size)
		require.LessOrEqual(t, got, max(size+size/4, 32), "size %d", size)
		require.Equal(t, got, classSize(c), "class %d", c)
		require.GreaterOrEqual(t, c, prev)
		prev = c
	}
	c, got := classOf(1<<maxClassLog + 1)
	assert.Equal(t, largeClass, c)
	assert.Equal(t, uintptr(1<<maxClassLog+1), got)
	assert.Less(t, prev, classCount)
}

func bytesAt(p uintptr, n int) []byte { return unsafe.Slice(*(**byte)(unsafe.Pointer(&p)), n) }

// A freed block is taken back by the next allocation of its class; a
// reallocation keeps the contents; a large block is not kept.
func TestFreedBlocksAreReusedAndReallocKeepsTheBytes(t *testing.T) {
	tls := libc.NewTLS()
	defer tls.Close()

	p := xMalloc(tls, 1000)
	require.NotZero(t, p)
	require.Zero(t, p%16, "16-aligned")
	require.GreaterOrEqual(t, xSize(tls, p), int32(1000))
	assert.Equal(t, xRoundup(tls, 1000), xSize(tls, p))
	bytesAt(p, 1000)[999] = 42
	xFree(tls, p)
	before := Snapshot()
	q := xMalloc(tls, 990) // the same class
	assert.Equal(t, p, q, "the freed block is reused")
	assert.Equal(t, before.Reused+1, Snapshot().Reused)

	bytesAt(q, 990)[0], bytesAt(q, 990)[989] = 7, 9
	r := xRealloc(tls, q, 5000)
	require.NotZero(t, r)
	assert.Equal(t, byte(7), bytesAt(r, 5000)[0])
	assert.Equal(t, byte(9), bytesAt(r, 5000)[989])
	assert.Equal(t, r, xRealloc(tls, r, 4900), "shrinking within the class moves nothing")
	xFree(tls, r)

	big := xMalloc(tls, 2<<20)
	require.NotZero(t, big)
	cachedBefore := Snapshot().CachedBytes
	xFree(tls, big)
	assert.Equal(t, cachedBefore, Snapshot().CachedBytes, "a large block goes back to the system")
}

// SQLite allocates through this package once it is imported and, once
// warm, takes nearly every block from what it freed.
func TestSQLiteAllocatesHere(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	_, err = db.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE, w TEXT)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "CREATE INDEX t_w ON t (w)")
	require.NoError(t, err)
	upserts := func(from, to int) {
		for i := from; i < to; i++ {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, "INSERT INTO t (v, w) VALUES (?, ?) ON CONFLICT (v) DO UPDATE SET w = excluded.w",
				fmt.Sprintf("v%d", i%50), strings.Repeat("w", i))
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
		}
	}
	before := Snapshot()
	upserts(0, 50)
	warm := Snapshot()
	require.Greater(t, warm.Allocations, before.Allocations, "SQLite allocates through this package")
	upserts(50, 250)
	after := Snapshot()
	made, reused := after.Allocations-warm.Allocations, after.Reused-warm.Reused
	t.Logf("%d allocations, %d from the free lists", made, reused)
	assert.Greater(t, made, int64(200))
	assert.GreaterOrEqual(t, reused, made*9/10, "warm, blocks come from the free lists")
	assert.LessOrEqual(t, after.CachedBytes, int64(CacheMax))
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n))
	assert.Equal(t, 50, n)
}
