package notionauth

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"
)

// EventType says what an [Event] reports.
type EventType int

const (
	// EventRetry: a failed request is about to be sent again after Wait.
	EventRetry EventType = iota + 1
	// EventWait: a request waited Wait for its token's pause or budget
	// before it was sent.
	EventWait
	// EventPause: an answer paused its token for Wait; every request of
	// the token waits until the pause is over.
	EventPause
)

var eventNames = [...]string{EventRetry: "retry", EventWait: "wait", EventPause: "pause"}

// String returns "retry", "wait" or "pause".
func (t EventType) String() string {
	if t > 0 && int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event reports a retry, a wait or a pause decided by a [Transport]. It
// never holds a token.
type Event struct {
	Type       EventType
	Kind       Kind          // the failure behind it (Throttled for waits)
	StatusCode int           // the answer behind it; 0 for a network failure or a wait
	Reason     string        // as in Error.Reason
	Attempt    int           // the attempt that failed (retry, pause) or is about to be sent (wait)
	Wait       time.Duration // how long the retry, wait or pause lasts
	Method     string
	Path       string // URL path only
	Key        string // the Manager's key of the grant the call was for; "" outside a Manager
}

// Stats are a [Transport]'s counters since it was first used.
type Stats struct {
	Requests  int64         // requests sent to Notion, retries and probes included
	Retries   int64         // requests that repeated a failed one
	Throttled int64         // 429 and 529 answers received
	Waits     int64         // requests that waited for their token's pause or budget
	Waited    time.Duration // the time those waits added up to
}

// counters are the atomic form of Stats.
type counters struct {
	requests                          stripedCounter // added to by every request
	retries, throttled, waits, waited atomic.Int64
}

// stripedCounter is a counter that many goroutines add to at once without
// all writing to one cache line: each adds to a stripe picked at random,
// and Load sums them.
type stripedCounter struct {
	_       [64]byte // apart from whatever comes before
	stripes [8]struct {
		n atomic.Int64
		_ [56]byte // a cache line each
	}
}

func (c *stripedCounter) Add(d int64) { c.stripes[rand.Uint32()%8].n.Add(d) }

func (c *stripedCounter) Load() int64 {
	var n int64
	for i := range c.stripes {
		n += c.stripes[i].n.Load()
	}
	return n
}

// Stats returns the Transport's counters. It is safe to call at any time.
func (t *Transport) Stats() Stats {
	c := &t.state().counters
	return Stats{
		Requests:  c.requests.Load(),
		Retries:   c.retries.Load(),
		Throttled: c.throttled.Load(),
		Waits:     c.waits.Load(),
		Waited:    time.Duration(c.waited.Load()),
	}
}

// emit hands ev to OnEvent and to Logger (at debug level), if set.
func (t *Transport) emit(ctx context.Context, ev Event) {
	if t.OnEvent != nil {
		t.OnEvent(ev)
	}
	if t.Logger != nil {
		t.Logger.LogAttrs(ctx, slog.LevelDebug, "notionauth: "+ev.Type.String(),
			slog.String("kind", ev.Kind.String()),
			slog.Int("status", ev.StatusCode),
			slog.String("reason", ev.Reason),
			slog.Int("attempt", ev.Attempt),
			slog.Duration("wait", ev.Wait),
			slog.String("method", ev.Method),
			slog.String("path", ev.Path),
			slog.String("key", ev.Key))
	}
}

func eventFor(typ EventType, e *Error, wait time.Duration) Event {
	return Event{Type: typ, Kind: e.Kind, StatusCode: e.StatusCode, Reason: e.Reason, Attempt: e.Attempts,
		Wait: wait, Method: e.Method, Path: e.Path}
}
