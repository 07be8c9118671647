package store

import "context"

// MigrateDownTo rolls the schema back to version v, for tests of upgrades
// from it.
func (s *Store) MigrateDownTo(ctx context.Context, v int64) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, v)
	return err
}
