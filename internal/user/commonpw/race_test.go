//go:build race

package commonpw

const raceEnabled = true
