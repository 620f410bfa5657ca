// Package page picks one page of keys, in order, for the stores' List.
package page
