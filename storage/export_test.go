package storage

import (
	"context"
	"time"
)

// ClaimSlackBatch writes keys as one batch of Slack claims, as the batcher
// does, and says for each whether this write stored it.
func ClaimSlackBatch(ctx context.Context, s *Store, keys []string, at time.Time) ([]bool, error) {
	items := make([]requestClaim, len(keys))
	for i, k := range keys {
		items[i] = requestClaim{key: k, at: at}
	}
	return s.slackClaims.write(ctx, items)
}
