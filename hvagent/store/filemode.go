package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// dbFileMode is the mode of the database and its -wal, -shm and .lock
// files: they hold tokens' callers, metadata and requests, so only the
// agent's user may read them.
const dbFileMode = 0o600

// restrictFiles creates the database file at path with dbFileMode when it
// is missing (SQLite then gives its -wal and -shm files the same mode) and
// narrows the mode of the files that already exist: the database, its -wal,
// -shm and .lock files.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, dbFileMode)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		fi, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open database: %w", err)
		}
		if fi.Mode().Perm()&^dbFileMode == 0 {
			continue
		}
		if err := os.Chmod(name, dbFileMode); err != nil {
			return fmt.Errorf("open database: restrict mode of %s: %w", name, err)
		}
	}
	return nil
}
