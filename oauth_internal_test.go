package notionauth

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestUsedMemoryForgetsExpiredAndStaysBounded(t *testing.T) {
	t.Parallel()
	var u usedMemory
	now := time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC)
	assert.True(t, u.use("a", now.Add(time.Minute), now))
	assert.False(t, u.use("a", now.Add(time.Minute), now), "used")
	assert.True(t, u.use("b", now.Add(2*time.Minute), now))

	// Once a's state has expired it is forgotten (and could not verify anyway).
	later := now.Add(time.Minute)
	assert.True(t, u.use("c", later.Add(time.Minute), later))
	assert.NotContains(t, u.m, "a")
	assert.Contains(t, u.m, "b")

	// Full: the oldest goes first, the size never passes the bound.
	for i := range maxUsedStates + 10 {
		u.use(strconv.Itoa(i), later.Add(time.Hour), later)
	}
	assert.Len(t, u.m, maxUsedStates)
	assert.Len(t, u.order, maxUsedStates)
	assert.NotContains(t, u.m, "b")
	assert.Contains(t, u.m, strconv.Itoa(maxUsedStates+9))
	assert.False(t, u.use(strconv.Itoa(maxUsedStates+9), later.Add(time.Hour), later))
}
