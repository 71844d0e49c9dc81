package testio

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBuffer_ConcurrentWrites(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = fmt.Fprintf(&b, "%d\n", i)
			_ = b.String()
		}()
	}
	wg.Wait()
	require.Len(t, b.String(), 20)
}
