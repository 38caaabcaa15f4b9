package notify

import (
	"context"

	"opsbot/storage"
)

// Work delivers m, which the notifier claimed, and the rest of its lane.
func (n *Notifier) Work(ctx context.Context, m storage.OutboxMessage) int { return n.work(ctx, m) }

// ID is the owner the notifier claims messages as.
func (n *Notifier) ID() string { return n.id }
