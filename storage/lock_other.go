//go:build !unix

package storage

// LockServe is a no-op where file locks are not available.
func (s *Store) LockServe() (release func(), err error) { return func() {}, nil }
