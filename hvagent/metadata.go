package hvagent

import "unicode/utf8"

// Default metadata limits (see Config). A guest's metadata is labels and
// small annotations for the orchestrator, not a document store: 256 keys
// of a few dozen bytes fit easily in 16 KiB. The largest PATCH these allow
// holds the single writer about as long as a small write's own commit, so
// other guests' writes wait at most about twice their usual time behind it
// (1024 keys and 64 KiB held it ~4× longer; measured in BENCHMARKS.md).
const (
	DefaultMaxMetadataKeys     = 256
	DefaultMaxMetadataKeyLen   = 256
	DefaultMaxMetadataValueLen = 4096
	DefaultMaxMetadataBytes    = 16 << 10
)

// MetadataLimits bound the metadata of one guest. Lengths are in bytes;
// Bytes counts every key and value. A zero field is no limit.
type MetadataLimits struct {
	// Keys is the most keys a guest may hold.
	Keys int
	// KeyLen and ValueLen bound one key and one value.
	KeyLen, ValueLen int
	// Bytes bounds the sum of the lengths of a guest's keys and values.
	Bytes int
}

// CheckEntries checks each key and value of m, a whole metadata map or a
// patch ("" values delete): EINVALID for an empty key, invalid UTF-8 or a
// key or value longer than its limit, naming the key.
func (l MetadataLimits) CheckEntries(m map[string]string) error {
	for k, v := range m {
		switch {
		case k == "":
			return Errorf(EINVALID, "metadata keys must not be empty")
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			return Errorf(EINVALID, "metadata key %q: key and value must be valid UTF-8", k)
		case l.KeyLen > 0 && len(k) > l.KeyLen:
			return Errorf(EINVALID, "metadata key %.32q...: %d bytes, more than the limit of %d", k, len(k), l.KeyLen)
		case l.ValueLen > 0 && len(v) > l.ValueLen:
			return Errorf(EINVALID, "metadata key %q: value of %d bytes, more than the limit of %d", k, len(v), l.ValueLen)
		}
	}
	return nil
}

// CheckTotal returns ETOOLARGE when a guest holding keys keys of size bytes
// in all is over a limit.
func (l MetadataLimits) CheckTotal(keys, size int) error {
	if l.Keys > 0 && keys > l.Keys {
		return Errorf(ETOOLARGE, "metadata would hold %d keys, more than the limit of %d", keys, l.Keys)
	}
	if l.Bytes > 0 && size > l.Bytes {
		return Errorf(ETOOLARGE, "metadata would hold %d bytes of keys and values, more than the limit of %d", size, l.Bytes)
	}
	return nil
}

// Check checks a whole metadata map: CheckEntries, then CheckTotal.
func (l MetadataLimits) Check(m map[string]string) error {
	if err := l.CheckEntries(m); err != nil {
		return err
	}
	keys, size := 0, 0
	for k, v := range m {
		if v != "" {
			keys, size = keys+1, size+len(k)+len(v)
		}
	}
	return l.CheckTotal(keys, size)
}

// MetadataLimits returns c's guest metadata limits.
func (c *Config) MetadataLimits() MetadataLimits {
	return MetadataLimits{Keys: c.MaxMetadataKeys, KeyLen: c.MaxMetadataKeyLen,
		ValueLen: c.MaxMetadataValueLen, Bytes: c.MaxMetadataBytes}
}
