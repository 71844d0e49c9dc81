package jsonform

import "sync"

// maxKeptBuffer bounds the buffers PutBuffer keeps: one grown for a rare
// large value is left to the collector.
const maxKeptBuffer = 64 << 10

// buffers are the scratch buffers of GetBuffer and PutBuffer.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// GetBuffer returns an empty scratch buffer to append JSON to, reused: the
// codecs' output on the hot paths (replies, sub-agent calls, event
// payloads) is written there and copied out or sent, instead of in a
// buffer grown from nothing each time. Store what was appended back in
// *b, and give b back with PutBuffer once nothing refers to its bytes.
func GetBuffer() *[]byte {
	b := buffers.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// PutBuffer gives b back for reuse, unless it grew beyond 64 KiB.
func PutBuffer(b *[]byte) {
	if cap(*b) <= maxKeptBuffer {
		buffers.Put(b)
	}
}
