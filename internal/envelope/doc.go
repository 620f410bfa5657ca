// Package envelope seals data with AES-256-GCM behind a versioned header, for the stores that encrypt at rest.
package envelope
