package discord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bwmarrin/discordgo"
)

// DecodeInteraction parses an interaction body. discordgo refuses a
// component type it does not know anywhere in the body (v0.28 and v0.29
// alike), and Discord keeps adding them (Label, File Upload, Radio Group,
// Checkbox), so opsbot decodes a modal's submitted data itself and leaves
// out the components of messages it is shown (the clicked message, a
// message command's target), which it never reads.
//
// A body with no components in it at all (a slash command, autocomplete, a
// ping) has nothing to leave out: it is decoded once, straight into
// discordgo's type, rather than taken apart, cleaned and put together again
// (a quarter of the cost of a Discord command before its handler runs).
func DecodeInteraction(body []byte) (*discordgo.Interaction, error) {
	if !hasComponents(body) {
		var it discordgo.Interaction
		if err := json.Unmarshal(body, &it); err != nil {
			return nil, fmt.Errorf("decode interaction: %w", err)
		}
		switch it.Type {
		case 0:
			return nil, errors.New("decode interaction: no type")
		case discordgo.InteractionModalSubmit:
			// opsbot reads a modal's data itself (below).
		default:
			return &it, nil
		}
	}
	return decodeCleaned(body)
}

// hasComponents reports whether a body may hold components: whether the
// word appears anywhere in it, as a key or not.
func hasComponents(body []byte) bool {
	return bytes.Contains(body, []byte(`"components"`))
}

// decodeCleaned decodes a body that may hold components discordgo does
// not know.
func decodeCleaned(body []byte) (*discordgo.Interaction, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("decode interaction: %w", err)
	}
	var head struct {
		Type discordgo.InteractionType `json:"type"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("decode interaction: %w", err)
	}
	if head.Type == 0 {
		return nil, errors.New("decode interaction: no type")
	}
	var modal *ModalSubmit
	if head.Type == discordgo.InteractionModalSubmit {
		modal = &ModalSubmit{}
		if raw, ok := top["data"]; ok {
			if err := json.Unmarshal(raw, modal); err != nil {
				return nil, fmt.Errorf("decode modal submit: %w", err)
			}
		}
		// discordgo would decode the components; it gets none.
		top["data"] = json.RawMessage(`{}`)
	}
	if raw, ok := top["message"]; ok {
		top["message"] = withoutComponents(raw)
	}
	if raw, ok := top["data"]; ok && modal == nil {
		top["data"] = withoutResolvedComponents(raw)
	}
	clean, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("decode interaction: %w", err)
	}
	var it discordgo.Interaction
	if err := json.Unmarshal(clean, &it); err != nil {
		return nil, fmt.Errorf("decode interaction: %w", err)
	}
	if modal != nil {
		it.Data = *modal
	}
	return &it, nil
}

// withoutComponents is a message object without its components; anything
// that is not an object is returned as it is, for discordgo to judge.
func withoutComponents(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return raw
	}
	delete(m, "components")
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// withoutResolvedComponents drops the components of the messages in a
// command's resolved data (a message command's target).
func withoutResolvedComponents(raw json.RawMessage) json.RawMessage {
	var data map[string]json.RawMessage
	if json.Unmarshal(raw, &data) != nil || data == nil {
		return raw
	}
	var resolved map[string]json.RawMessage
	if json.Unmarshal(data["resolved"], &resolved) != nil || resolved == nil {
		return raw
	}
	var msgs map[string]json.RawMessage
	if json.Unmarshal(resolved["messages"], &msgs) != nil || msgs == nil {
		return raw
	}
	for id, m := range msgs {
		msgs[id] = withoutComponents(m)
	}
	var err error
	if resolved["messages"], err = json.Marshal(msgs); err != nil {
		return raw
	}
	if data["resolved"], err = json.Marshal(resolved); err != nil {
		return raw
	}
	out, err := json.Marshal(data)
	if err != nil {
		return raw
	}
	return out
}

// ModalSubmit is the data of a modal submission (interaction type 5),
// decoded by opsbot rather than discordgo so that any component type
// Discord sends is read.
type ModalSubmit struct {
	CustomID   string           `json:"custom_id"`
	Components []ModalComponent `json:"components"`
}

// Type makes ModalSubmit an interaction's data.
func (ModalSubmit) Type() discordgo.InteractionType { return discordgo.InteractionModalSubmit }

// ModalComponent is one component of a submitted modal: an action row (1)
// or label (18) holding others, or a field with the value entered (text
// input 4, radio group 21, checkbox 23) or values chosen (selects 3, 5-8,
// file upload 19, checkbox group 22). Display-only components (text
// display 10) carry neither.
type ModalComponent struct {
	Type       discordgo.ComponentType `json:"type"`
	ID         int                     `json:"id,omitempty"`
	CustomID   string                  `json:"custom_id,omitempty"`
	Value      json.RawMessage         `json:"value,omitempty"`
	Values     []string                `json:"values,omitempty"`
	Component  *ModalComponent         `json:"component,omitempty"`
	Components []ModalComponent        `json:"components,omitempty"`
}

// Values lists what was entered in each field, by custom_id: a text
// input's or radio group's value, a checkbox's "true" or "false", a
// select's or file upload's chosen values.
func (m ModalSubmit) Values() map[string][]string {
	out := map[string][]string{}
	var walk func(cs []ModalComponent)
	walk = func(cs []ModalComponent) {
		for _, c := range cs {
			if c.Component != nil {
				walk([]ModalComponent{*c.Component})
			}
			walk(c.Components)
			if c.CustomID == "" {
				continue
			}
			switch {
			case c.Values != nil:
				out[c.CustomID] = c.Values
			case len(c.Value) > 0:
				var s string
				if json.Unmarshal(c.Value, &s) == nil {
					out[c.CustomID] = []string{s}
				} else {
					out[c.CustomID] = []string{string(c.Value)}
				}
			}
		}
	}
	walk(m.Components)
	return out
}
