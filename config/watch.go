package config

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"
)

// WatchFile reads path every interval until ctx is done, and calls
// onChange with its contents whenever they differ from last (the contents
// already in use). A file that cannot be read is reported to onError once
// per failure and its last contents stay in use. Comparing contents rather
// than modification times catches edits within one clock tick, and an
// editor's write-then-rename alike.
func WatchFile(ctx context.Context, path string, interval time.Duration, last []byte, onChange func([]byte), onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(path)
		if err != nil {
			if !failing {
				onError(fmt.Errorf("reading %s: %w", path, err))
			}
			failing = true
			continue
		}
		failing = false
		if bytes.Equal(data, last) {
			continue
		}
		last = data
		onChange(data)
	}
}
