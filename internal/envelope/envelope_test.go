package envelope

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, KeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

// reason returns the Reason of err, which must be an *Error.
func reason(t *testing.T, err error, msgAndArgs ...any) Reason {
	t.Helper()
	var e *Error
	require.True(t, errors.As(err, &e), "want an *Error, got %v", err)
	return e.Reason
}

func TestSealOpen(t *testing.T) {
	key := newKey(t)
	for _, plain := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret "), 1000)} {
		data, err := Seal(key, plain)
		require.NoError(t, err)
		assert.True(t, IsSealed(data))
		assert.Len(t, data, HeaderSize+len(plain)+16)
		if len(plain) > 6 {
			assert.NotContains(t, string(data), string(plain[:7]))
		}
		got, err := Open(key, data)
		require.NoError(t, err)
		assert.Equal(t, len(plain), len(got))
		assert.True(t, bytes.Equal(plain, got) || len(plain) == 0)
	}

	a, err := Seal(key, []byte("same"))
	require.NoError(t, err)
	b, err := Seal(key, []byte("same"))
	require.NoError(t, err)
	assert.NotEqual(t, a[nonceFrom:lengthAt], b[nonceFrom:lengthAt], "nonce reused")
}

func TestOpenRefuses(t *testing.T) {
	key := newKey(t)
	good, err := Seal(key, []byte(`{"version":1,"grants":{}}`))
	require.NoError(t, err)

	_, err = Open(newKey(t), good)
	assert.Equal(t, WrongKey, reason(t, err), "another key")
	for i := range good {
		d := bytes.Clone(good)
		d[i] ^= 0x01
		_, err := Open(key, d)
		require.Error(t, err, "byte %d flipped", i)
		r := reason(t, err)
		switch {
		case i < len(magic):
			assert.Equal(t, Corrupt, r, "byte %d (magic) flipped", i)
		case i == len(magic):
			assert.Equal(t, Unsupported, r, "version flipped")
		case i >= lengthAt && i < HeaderSize:
			assert.Contains(t, []Reason{Corrupt, WrongKey}, r, "byte %d (length) flipped", i)
		default:
			assert.Equal(t, WrongKey, r, "byte %d flipped", i)
		}
	}
	for n := 0; n < len(good); n++ {
		_, err := Open(key, good[:n])
		assert.Equal(t, Corrupt, reason(t, err), "truncated to %d bytes", n)
		assert.Equal(t, n > 0 && n < len(magic), IsTruncatedHeader(good[:n]), "IsTruncatedHeader of %d bytes", n)
	}
	_, err = Open(key, append(bytes.Clone(good), 0))
	assert.Equal(t, Corrupt, reason(t, err), "trailing byte")

	_, err = Open(key[:16], good)
	require.Error(t, err, "short key")
	_, err = Seal(key[:16], []byte("x"))
	require.Error(t, err, "short key")
	for _, err := range []error{&Error{Reason: WrongKey}, &Error{Reason: Corrupt, Detail: "truncated header"}} {
		assert.NotContains(t, err.Error(), string(key))
	}
}
