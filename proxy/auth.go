package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

// Headers of the sidecar's own authentication. Both are X-Memory- headers,
// removed before the upstream call like the identity headers.
const (
	// HeaderKey carries a client key of the sidecar's own (not the
	// upstream's), when client keys are configured.
	HeaderKey = "X-Memory-Key"
	// HeaderSignature carries a signed identity (see SignIdentity).
	HeaderSignature = "X-Memory-Signature"
)

// clientKey admits a request to the chat routes and every forwarded path
// when client keys are configured. The key is in X-Memory-Key, or, when
// the sidecar has an upstream key of its own (so that the client's
// Authorization is replaced anyway), the bearer token of Authorization:
// an app sets its SDK's api_key to its sidecar key.
func (s *Server) clientKey(c *gin.Context) {
	if len(s.opts.ClientKeys) == 0 {
		return
	}
	key := c.GetHeader(HeaderKey)
	if key == "" && s.opts.UpstreamAPIKey != "" {
		key, _ = strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	}
	if !MatchKey(key, s.opts.ClientKeys) {
		where := HeaderKey
		if s.opts.UpstreamAPIKey != "" {
			where += " or Authorization: Bearer"
		}
		writeError(c, http.StatusUnauthorized, "invalid_client_key", "missing or invalid sidecar key: send it in "+where)
	}
}

// MatchKey reports whether key is one of keys. It compares key with every
// one in constant time, so that timing tells a caller nothing of a key.
func MatchKey(key string, keys []string) bool {
	ok := 0
	for _, k := range keys {
		ok |= subtle.ConstantTimeCompare([]byte(key), []byte(k))
	}
	return key != "" && ok == 1
}

// SignIdentity returns the X-Memory-Signature value that vouches for id
// until expires, under secret. A backend that knows who its user is signs
// the identity and hands it to the app (or adds it itself); the sidecar,
// configured with the same secret, then accepts no identity it did not
// sign: a caller that is not trusted cannot claim to be someone else.
//
// The value is "v1.<unix expiry>.<signature>", the signature being the
// base64url HMAC-SHA256 of "v1\n<user>\n<agent>\n<run>\n<expiry>".
func SignIdentity(secret []byte, id memory.Identity, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return "v1." + exp + "." + identityMAC(secret, id, exp)
}

func identityMAC(secret []byte, id memory.Identity, exp string) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "v1\n%s\n%s\n%s\n%s", id.UserID, id.AgentID, id.RunID, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var (
	errNoSignature  = errors.New("identity signature missing: this sidecar accepts signed identities only (" + HeaderSignature + ")")
	errBadSignature = errors.New("identity signature invalid: it does not vouch for these ids")
	errExpired      = errors.New("identity signature expired")
	errTooLong      = errors.New("identity signature expires too far ahead (at most 7 days)")
)

// verifyIdentity checks that the request's signature vouches for exactly
// id, and has not expired.
func (s *Server) verifyIdentity(h http.Header, id memory.Identity) error {
	sig := h.Get(HeaderSignature)
	if sig == "" {
		return errNoSignature
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return errBadSignature
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return errBadSignature
	}
	want := identityMAC(s.opts.IdentitySecret, id, parts[1])
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(want)) != 1 {
		return errBadSignature
	}
	now := s.now().Unix()
	if now > exp {
		return errExpired
	}
	if exp-now > int64(MaxSignatureLifetime/time.Second) {
		return errTooLong
	}
	return nil
}

// MaxSignatureLifetime is the furthest ahead a signature may expire. A
// signature that never expires would be a credential for the user that
// only rotating the secret could revoke.
const MaxSignatureLifetime = 7 * 24 * time.Hour

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}
