package fakeupstream

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
)

// EmbeddingDims is the dimension of the fake embeddings.
const EmbeddingDims = 64

func (u *Upstream) embeddings(w http.ResponseWriter, body []byte) {
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, 400, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request.")
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if err := json.Unmarshal(req.Input, &inputs); err != nil || len(inputs) == 0 {
		writeError(w, 400, "invalid_request_error", "invalid_input", "'input' must be a non-empty string or array of strings")
		return
	}
	dims := EmbeddingDims
	if req.Dimensions > 0 {
		dims = req.Dimensions
	}
	data := make([]any, len(inputs))
	total := 0
	for i, in := range inputs {
		vec := Embedding(in, dims)
		var emb any = vec
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(vec))
			for j, x := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
		total += tokens(in)
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]any{"prompt_tokens": total, "total_tokens": total}})
}

// Embedding is the fake's deterministic unit vector for text: the same
// text always gets the same vector; different texts nearly orthogonal ones.
func Embedding(text string, dims int) []float32 {
	vec := make([]float32, dims)
	var norm float64
	for i := range vec {
		h := sha256.Sum256([]byte(fmt.Sprintf("%d:%s", i, text)))
		x := float64(int32(binary.LittleEndian.Uint32(h[:4]))) / math.MaxInt32
		vec[i] = float32(x)
		norm += x * x
	}
	for i := range vec {
		vec[i] = float32(float64(vec[i]) / math.Sqrt(norm))
	}
	return vec
}
