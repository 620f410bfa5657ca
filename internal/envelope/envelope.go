package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// The envelope's format: a header, then the AES-256-GCM ciphertext (with
// its tag) of the data, sealed with the whole header as additional data:
//
//	magic "NAUTH" | version byte (1) | 12-byte random nonce | uint32 big-endian length of the rest
//
// The length lets a truncated envelope be told apart from a wrong key.
const (
	magic     = "NAUTH"
	version   = 1
	nonceSize = 12
	nonceFrom = len(magic) + 1
	lengthAt  = nonceFrom + nonceSize

	// HeaderSize is the length of the header in front of the ciphertext.
	HeaderSize = lengthAt + 4

	// KeySize is the length of a key: AES-256.
	KeySize = 32
)

// Reason is why [Open] cannot open data.
type Reason int

const (
	Corrupt     Reason = iota + 1 // damaged or truncated where it can be told
	WrongKey                      // does not authenticate: a wrong key, or damage inside the ciphertext
	Unsupported                   // an envelope version this code does not know
)

// Error is [Open]'s failure. Its text never holds the data or the key.
type Error struct {
	Reason Reason
	Detail string // what is wrong, such as "truncated header"; "" for WrongKey
}

func (e *Error) Error() string {
	var s string
	switch e.Reason {
	case WrongKey:
		s = "cannot decrypt: wrong key or damaged data"
	case Unsupported:
		s = "unsupported envelope version"
	default:
		s = "damaged envelope"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return "envelope: " + s
}

// IsSealed reports whether data begins as an envelope does.
func IsSealed(data []byte) bool { return bytes.HasPrefix(data, []byte(magic)) }

// IsTruncatedHeader reports whether data is the start of an envelope's
// magic and nothing more: an envelope cut short within its first bytes.
func IsTruncatedHeader(data []byte) bool {
	return len(data) > 0 && len(data) < len(magic) && bytes.HasPrefix([]byte(magic), data)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, errors.New("envelope: key is " + strconv.Itoa(len(key)) + " bytes long; want " + strconv.Itoa(KeySize))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plain with key (KeySize bytes) under a new random nonce.
func Seal(key, plain []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	n := uint64(len(plain)) + uint64(gcm.Overhead())
	if n > math.MaxUint32 {
		return nil, errors.New("envelope: data too large to seal")
	}
	out := make([]byte, HeaderSize, HeaderSize+int(n))
	copy(out, magic)
	out[len(magic)] = version
	nonce := out[nonceFrom:lengthAt]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(out[lengthAt:], uint32(n))
	header := bytes.Clone(out)
	return gcm.Seal(out, nonce, plain, header), nil
}

// Open decrypts what [Seal] sealed with key. Its failures to open data are
// *[Error]s; a key of the wrong size is an error of its own.
func Open(key, data []byte) ([]byte, error) {
	if !IsSealed(data) {
		return nil, &Error{Reason: Corrupt, Detail: "not an envelope"}
	}
	if len(data) < HeaderSize {
		return nil, &Error{Reason: Corrupt, Detail: "truncated header"}
	}
	if v := data[len(magic)]; v != version {
		return nil, &Error{Reason: Unsupported, Detail: "version " + strconv.Itoa(int(v))}
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	header, body := data[:HeaderSize], data[HeaderSize:]
	switch n := uint64(binary.BigEndian.Uint32(header[lengthAt:])); {
	case n > uint64(len(body)):
		return nil, &Error{Reason: Corrupt, Detail: "truncated: " + strconv.Itoa(len(body)) + " of " + strconv.FormatUint(n, 10) + " encrypted bytes"}
	case n < uint64(len(body)):
		return nil, &Error{Reason: Corrupt, Detail: strconv.FormatUint(uint64(len(body))-n, 10) + " bytes after the encrypted data"}
	case n < uint64(gcm.Overhead()):
		return nil, &Error{Reason: Corrupt, Detail: "encrypted data too short"}
	}
	plain, err := gcm.Open(nil, header[nonceFrom:lengthAt], body, header)
	if err != nil {
		return nil, &Error{Reason: WrongKey}
	}
	return plain, nil
}
