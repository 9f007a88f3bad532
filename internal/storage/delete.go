package storage

import "context"

// DeletePrefix deletes every key that starts with prefix from s. Given a transaction it is
// atomic; for prefixes that may hold many entries use DeletePrefixBatched.
func DeletePrefix(ctx context.Context, s Store, prefix string) error {
	entries, err := s.List(ctx, prefix, "", 0)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := s.Delete(ctx, e.Key); err != nil {
			return err
		}
	}
	return nil
}

// DeletePrefixBatched deletes every key that starts with prefix from b in transactions of
// at most 500 keys, so that large prefixes (run logs, artifacts) never make one huge
// transaction. It is not atomic: after an error some keys may be gone; calling it again
// finishes the job.
func DeletePrefixBatched(ctx context.Context, b Backend, prefix string) error {
	const batch = 500
	for {
		entries, err := b.List(ctx, prefix, "", batch)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		err = b.Update(ctx, func(tx Store) error {
			for _, e := range entries {
				if err := tx.Delete(ctx, e.Key); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}
