// Package testio holds small I/O helpers for tests; it imports nothing of
// hvagent, so every test package may use it.
package testio

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for a writer (a process, a logger) and a
// reading test at the same time. Its zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
