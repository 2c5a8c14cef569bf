package embedded

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// record is the stored form of a Memory, apart from its vector.
type record struct {
	ID         string         `json:"id"`
	Text       string         `json:"text"`
	Hash       string         `json:"hash"`
	UserID     string         `json:"user_id,omitempty"`
	AgentID    string         `json:"agent_id,omitempty"`
	RunID      string         `json:"run_id,omitempty"`
	AppID      string         `json:"app_id,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Categories []string       `json:"categories,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	ExpiresAt  time.Time      `json:"expires_at,omitzero"`
}

// encode lays out a memory as: format version (1 byte), length of the JSON
// record (uint32), the JSON record, then the vector as little-endian float32.
func encode(m *memory.Memory) ([]byte, error) {
	js, err := json.Marshal(record{
		ID: m.ID, Text: m.Text, Hash: m.Hash, UserID: m.UserID, AgentID: m.AgentID,
		RunID: m.RunID, AppID: m.AppID, Metadata: m.Metadata, Categories: m.Categories,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, ExpiresAt: m.ExpiresAt,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: encoding memory %s: %w", m.ID, err)
	}
	buf := make([]byte, 0, 5+len(js)+4*len(m.Vector))
	buf = append(buf, 1)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(js)))
	buf = append(buf, js...)
	for _, x := range m.Vector {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	return buf, nil
}

func decode(b []byte) (*memory.Memory, error) {
	if len(b) < 5 || b[0] != 1 {
		return nil, errors.New("unknown record format")
	}
	n := int(binary.LittleEndian.Uint32(b[1:5]))
	if 5+n > len(b) || (len(b)-5-n)%4 != 0 {
		return nil, errors.New("truncated record")
	}
	var r record
	if err := json.Unmarshal(b[5:5+n], &r); err != nil {
		return nil, err
	}
	vec := make([]float32, (len(b)-5-n)/4)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[5+n+4*i:]))
	}
	return &memory.Memory{
		ID: r.ID, Text: r.Text, Hash: r.Hash, UserID: r.UserID, AgentID: r.AgentID,
		RunID: r.RunID, AppID: r.AppID, Metadata: r.Metadata, Categories: r.Categories,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ExpiresAt: r.ExpiresAt, Vector: vec,
	}, nil
}
