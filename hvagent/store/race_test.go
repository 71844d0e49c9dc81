//go:build race

package store

// raceEnabled says whether the race detector is on: timing bounds are
// looser under it.
const raceEnabled = true
