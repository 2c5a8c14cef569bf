package inspector

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/proxy"
)

// This file holds the inspector's sessions: logging in with a memory API
// key, the session cookie, and the checks that keep other sites from
// writing through a logged-in browser.

const (
	// cookieName names the session cookie; its value is a random session
	// id, never the key.
	cookieName = "memproxy_ui"
	// csrfHeader carries the session's CSRF token on every API write.
	csrfHeader = "X-CSRF-Token"
	// sessionTTL is how long a session lasts from login.
	sessionTTL = 8 * time.Hour
	// maxSessions bounds the sessions held: a login beyond it ends the
	// session closest to its end.
	maxSessions = 1000
)

// A session is one logged-in browser.
type session struct {
	csrf    string
	expires time.Time
}

// sessions are the live sessions by id. Time is time.Now, which tests
// replace in a synctest bubble.
type sessions struct {
	mu   sync.Mutex
	byID map[string]session
}

func newSessions() *sessions { return &sessions{byID: map[string]session{}} }

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session and returns its id.
func (s *sessions) create() (string, session) {
	now := time.Now()
	id, sess := randomToken(), session{csrf: randomToken(), expires: now.Add(sessionTTL)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		for k, v := range s.byID {
			if !v.expires.After(now) {
				delete(s.byID, k)
			}
		}
	}
	for len(s.byID) >= maxSessions {
		var oldest string
		for k, v := range s.byID {
			if oldest == "" || v.expires.Before(s.byID[oldest].expires) {
				oldest = k
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[id] = sess
	return id, sess
}

// get returns the live session with id; an expired one is forgotten.
func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byID[id]
	if ok && !sess.expires.After(time.Now()) {
		delete(s.byID, id)
		return session{}, false
	}
	return sess, ok
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// setCookie sets (or, with maxAge < 0, clears) the session cookie:
// HttpOnly, SameSite=Strict, scoped to the inspector's path, Secure when
// the request came over TLS.
func setCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieName, Value: value, Path: basePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request.TLS != nil,
	})
}

// sameOrigin reports whether a request that changes something comes from
// the inspector's own pages: a browser says where a request comes from in
// Sec-Fetch-Site and Origin, and another site's page cannot forge either.
// A client that sends neither (curl) is not a browser another site can
// drive.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// login answers POST /memproxy/ui/login: a form with the key. The right
// key starts a session; a wrong one shows the form again.
func (in *Inspector) login(c *gin.Context) {
	if !sameOrigin(c.Request) {
		in.page(c, http.StatusForbidden, loginPage, pageData{Error: "This login came from another site and was refused."})
		return
	}
	key := strings.TrimSpace(c.PostForm("key"))
	if len(in.opts.APIKeys) == 0 {
		in.page(c, http.StatusUnauthorized, loginPage, pageData{Error: "The memory API is closed: no API keys are configured (set MEMPROXY_API_KEYS)."})
		return
	}
	if key == "" || !proxy.MatchKey(key, in.opts.APIKeys) {
		in.log.WarnContext(c.Request.Context(), "inspector: login refused", "remote", c.ClientIP())
		in.page(c, http.StatusUnauthorized, loginPage, pageData{Error: "That is not a memory API key."})
		return
	}
	id, _ := in.sessions.create()
	setCookie(c, id, int(sessionTTL/time.Second))
	in.log.InfoContext(c.Request.Context(), "inspector: logged in", "remote", c.ClientIP())
	c.Redirect(http.StatusSeeOther, basePath+"/")
}

// logout answers POST /memproxy/ui/logout (the form carries the CSRF
// token): the session ends and its cookie is cleared.
func (in *Inspector) logout(c *gin.Context) {
	id, sess, ok := in.session(c)
	if ok && sameOrigin(c.Request) && tokenEqual(c.PostForm("csrf"), sess.csrf) {
		in.sessions.end(id)
	} else if ok {
		c.String(http.StatusForbidden, "logout refused: not from the inspector's page")
		return
	}
	setCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, basePath+"/")
}

// session returns the request's live session, if any.
func (in *Inspector) session(c *gin.Context) (string, session, bool) {
	id, err := c.Cookie(cookieName)
	if err != nil || id == "" {
		return "", session{}, false
	}
	sess, ok := in.sessions.get(id)
	return id, sess, ok
}

func tokenEqual(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// requireSession admits an API call with a live session; a call that
// changes something must also come from the same origin and carry the
// session's CSRF token.
func (in *Inspector) requireSession(c *gin.Context) {
	_, sess, ok := in.session(c)
	if !ok {
		fail(c, http.StatusUnauthorized, "not logged in, or the session has expired: log in again")
		return
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !sameOrigin(c.Request) || !tokenEqual(c.GetHeader(csrfHeader), sess.csrf) {
			fail(c, http.StatusForbidden, "refused: a change must come from the inspector's own page with its CSRF token")
			return
		}
	}
	c.Next()
}
