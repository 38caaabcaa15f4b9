// Package docs carries the operator documents that code checks itself
// against: the Slack app manifest, whose scopes the fake Slack grants.
package docs

import _ "embed"

// SlackManifest is docs/slack-app-manifest.yaml, the Slack app opsbot asks
// operators to install.
//
//go:embed slack-app-manifest.yaml
var SlackManifest []byte
