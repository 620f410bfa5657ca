package notionauth

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retryNow is the fixed clock HTTP-date tests are relative to.
var retryNow = time.Date(2025, time.June, 3, 10, 30, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"integer", "12", 12 * time.Second, true},
		{"one minute", "60", time.Minute, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"decimal", "1.5", 1500 * time.Millisecond, true},
		{"leading dot", ".25", 250 * time.Millisecond, true},
		{"trailing dot", "5.", 5 * time.Second, true},
		{"zero", "0", 0, true},
		{"zero decimal", "0.0", 0, true},
		{"tiny", "1e-999", 0, true},
		{"whitespace around", " \t7 \r\n", 7 * time.Second, true},
		{"exactly the cap", "86400", 24 * time.Hour, true},
		{"just over the cap", "86401", 24 * time.Hour, true},
		{"huge", "99999999999999999999999999", 24 * time.Hour, true},
		{"huge exponent", "1e999", 24 * time.Hour, true},
		{"beyond time.Duration", "9223372037", 24 * time.Hour, true},

		{"negative", "-1", 0, false},
		{"negative decimal", "-0.5", 0, false},
		{"negative zero", "-0", 0, false},
		{"negative huge", "-1e999", 0, false},
		{"plus sign", "+5", 0, false},
		{"garbage", "soon", 0, false},
		{"units", "5s", 0, false},
		{"two numbers", "5, 6", 0, false},
		{"decimal comma", "1,5", 0, false},
		{"lone dot", ".", 0, false},
		{"empty", "", 0, false},
		{"whitespace", " \t ", 0, false},
		{"NaN", "NaN", 0, false},
		{"nan lower case", "nan", 0, false},
		{"Inf", "Inf", 0, false},
		{"+Inf", "+Inf", 0, false},

		{"http date future", retryNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"http date RFC 850", retryNow.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second, true},
		{"http date asctime", retryNow.Add(2 * time.Hour).Format(time.ANSIC), 2 * time.Hour, true},
		{"http date now", retryNow.Format(http.TimeFormat), 0, true},
		{"http date past", retryNow.Add(-90 * time.Second).Format(http.TimeFormat), 0, true},
		{"http date far past", "Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"http date far future", retryNow.Add(400 * 24 * time.Hour).Format(http.TimeFormat), 24 * time.Hour, true},
		{"http date year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", 24 * time.Hour, true},
		{"http date with whitespace", "  " + retryNow.Add(5*time.Second).Format(http.TimeFormat) + "  ", 5 * time.Second, true},
		{"http date malformed", "Tue, 31 Foo 2025 10:30:00 GMT", 0, false},
		{"http date without zone", "2025-06-03T10:31:00", 0, false},
		{"RFC 3339 is not an http date", retryNow.Add(time.Minute).Format(time.RFC3339), 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseRetryAfter(tc.in, retryNow)
			assert.Equal(t, tc.ok, ok, "parseRetryAfter(%q) ok", tc.in)
			assert.Equal(t, tc.want, got, "parseRetryAfter(%q)", tc.in)
		})
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	t.Parallel()
	var zero RetryPolicy
	require.NoError(t, zero.validate(), "the zero RetryPolicy is valid")
	assert.Equal(t, DefaultMaxAttempts, zero.maxAttempts())
	assert.Equal(t, DefaultMaxWait, zero.maxWait())
	assert.Equal(t, 4, DefaultMaxAttempts)
	assert.Equal(t, 61*time.Second, DefaultMaxWait, "Notion's window and a second")

	set := RetryPolicy{MaxAttempts: 1, MaxWait: 5 * time.Second}
	require.NoError(t, set.validate())
	assert.Equal(t, 1, set.maxAttempts(), "1 means send once")
	assert.Equal(t, 5*time.Second, set.maxWait())

	big := RetryPolicy{MaxAttempts: 100, MaxWait: 48 * time.Hour}
	require.NoError(t, big.validate())
	assert.Equal(t, 100, big.maxAttempts())
	assert.Equal(t, 48*time.Hour, big.maxWait())
}

func TestRetryPolicyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  RetryPolicy
		wantErr string // substring; "" for valid
	}{
		{"zero", RetryPolicy{}, ""},
		{"one attempt", RetryPolicy{MaxAttempts: 1}, ""},
		{"one nanosecond", RetryPolicy{MaxWait: time.Nanosecond}, ""},
		{"negative attempts", RetryPolicy{MaxAttempts: -1}, "MaxAttempts"},
		{"very negative attempts", RetryPolicy{MaxAttempts: -1 << 31}, "MaxAttempts"},
		{"negative wait", RetryPolicy{MaxWait: -time.Nanosecond}, "MaxWait"},
		{"negative wait, good attempts", RetryPolicy{MaxAttempts: 3, MaxWait: -time.Second}, "MaxWait"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.policy.validate()
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
