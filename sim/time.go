package sim

import (
	"fmt"
	"time"
)

// Time is a point in virtual time: nanoseconds since the start of a run.
// Nothing in a simulation reads a wall clock; Time only moves when the
// kernel runs the next event.
type Time int64

// Duration is a span of virtual time in nanoseconds.
type Duration int64

// Common durations.
const (
	Nanosecond  Duration = 1
	Microsecond          = 1000 * Nanosecond
	Millisecond          = 1000 * Microsecond
	Second               = 1000 * Millisecond
	Minute               = 60 * Second
	Hour                 = 60 * Minute
)

// Add returns t+d.
func (t Time) Add(d Duration) Time { return t + Time(d) }

// Sub returns the span t-u.
func (t Time) Sub(u Time) Duration { return Duration(t - u) }

// Millis returns t in whole milliseconds since the start of the run, the unit
// ZooKeeper stamps into ctime and mtime.
func (t Time) Millis() int64 { return int64(t) / int64(Millisecond) }

// String formats t as a duration since the start, e.g. "1.5s".
func (t Time) String() string { return Duration(t).String() }

// String formats d like time.Duration ("1.5s", "250ms").
func (d Duration) String() string { return time.Duration(d).String() }

// Std converts d to a time.Duration (for formatting and flag parsing only;
// simulated code never sleeps).
func (d Duration) Std() time.Duration { return time.Duration(d) }

// ParseDuration parses a duration such as "300ms" or "2s" into virtual time.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: %w", s, err)
	}
	return Duration(d), nil
}
