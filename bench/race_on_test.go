//go:build race

package bench

// raceEnabled is whether the tests run under the race detector.
const raceEnabled = true
