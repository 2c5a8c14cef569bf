package inspector

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gin-gonic/gin"
)

const testKey = "inspector-test-key"

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// engine serves in on a gin engine, as memapi mounts it.
func engine(in *Inspector) *gin.Engine {
	e := gin.New()
	in.Register(e)
	return e
}

// serve sends one request to h and returns the recorded answer.
func serve(h http.Handler, method, target, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// login posts key to the login form and returns the answer.
func login(h http.Handler, key string, header map[string]string) *httptest.ResponseRecorder {
	hd := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		hd[k] = v
	}
	return serve(h, "POST", "/memproxy/ui/login", url.Values{"key": {key}}.Encode(), hd)
}

// sessionCookie returns the session cookie an answer sets, or nil.
func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// loggedIn logs in and returns the cookie header and the CSRF token.
func loggedIn(t *testing.T, in *Inspector, h http.Handler) (cookie, csrf string) {
	t.Helper()
	w := login(h, testKey, nil)
	c := sessionCookie(w)
	if w.Code != http.StatusSeeOther || c == nil {
		t.Fatalf("login: %d, cookie %v: %s", w.Code, c, w.Body)
	}
	sess, ok := in.sessions.get(c.Value)
	if !ok {
		t.Fatal("the session the cookie names is not held")
	}
	return cookieName + "=" + c.Value, sess.csrf
}

func TestLoginSetsAStrictHttpOnlyCookieThatIsNotTheKey(t *testing.T) {
	in := New(Options{APIKeys: []string{testKey}})
	h := engine(in)
	w := login(h, testKey, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/memproxy/ui/" {
		t.Fatalf("login: %d %q", w.Code, w.Header().Get("Location"))
	}
	c := sessionCookie(w)
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/memproxy/ui" || c.Secure {
		t.Errorf("cookie over plain HTTP: HttpOnly %v SameSite %v Path %q Secure %v", c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	if strings.Contains(c.Value, testKey) || len(c.Value) < 40 {
		t.Errorf("the cookie's value %q is not a random session id", c.Value)
	}
	if c.MaxAge != int(sessionTTL/time.Second) {
		t.Errorf("MaxAge %d, want %d", c.MaxAge, int(sessionTTL/time.Second))
	}
	// The session opens the API: with no store it answers 503, not 401.
	if w := serve(h, "GET", "/memproxy/ui/api/users/sarah", "", map[string]string{"Cookie": cookieName + "=" + c.Value}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("API with the session: %d %s", w.Code, w.Body)
	}
	// The page carries the CSRF token, not the key.
	page := serve(h, "GET", "/memproxy/ui/", "", map[string]string{"Cookie": cookieName + "=" + c.Value}).Body.String()
	sess, _ := in.sessions.get(c.Value)
	if !strings.Contains(page, sess.csrf) || strings.Contains(page, testKey) {
		t.Error("the inspector's page should carry the CSRF token and never the key")
	}
}

func TestCookieIsSecureOverTLS(t *testing.T) {
	h := engine(New(Options{APIKeys: []string{testKey}}))
	req := httptest.NewRequest("POST", "https://sidecar/memproxy/ui/login", strings.NewReader("key="+testKey))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if c := sessionCookie(w); c == nil || !c.Secure {
		t.Errorf("over TLS the cookie must be Secure: %v", c)
	}
}

func TestWrongKeyIsRefused(t *testing.T) {
	in := New(Options{APIKeys: []string{testKey}})
	h := engine(in)
	for _, key := range []string{"", "wrong", testKey + "x"} {
		w := login(h, key, nil)
		if w.Code != http.StatusUnauthorized || sessionCookie(w) != nil {
			t.Errorf("key %q: %d, cookie %v", key, w.Code, sessionCookie(w))
		}
		if !strings.Contains(w.Body.String(), "not a memory API key") {
			t.Errorf("key %q: the form does not say why: %s", key, w.Body)
		}
	}
	if n := in.sessions.len(); n != 0 {
		t.Errorf("%d sessions after wrong keys", n)
	}
	// Without a session, or with a made-up one, the API is closed.
	for _, cookie := range []string{"", cookieName + "=made-up"} {
		if w := serve(h, "GET", "/memproxy/ui/api/entities", "", map[string]string{"Cookie": cookie}); w.Code != http.StatusUnauthorized {
			t.Errorf("cookie %q: %d", cookie, w.Code)
		}
	}
	// No keys configured: no one logs in.
	if w := login(engine(New(Options{})), "anything", nil); w.Code != http.StatusUnauthorized || sessionCookie(w) != nil {
		t.Errorf("without keys: %d", w.Code)
	}
}

func TestCrossSiteWritesAreRefused(t *testing.T) {
	in := New(Options{APIKeys: []string{testKey}})
	h := engine(in)
	cookie, csrf := loggedIn(t, in, h)
	cases := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no CSRF token", map[string]string{"Cookie": cookie}, http.StatusForbidden},
		{"wrong CSRF token", map[string]string{"Cookie": cookie, csrfHeader: csrf + "x"}, http.StatusForbidden},
		{"cross-site fetch", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site but another origin", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"another origin", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Origin": "http://evil.example"}, http.StatusForbidden},
		{"an opaque origin", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Origin": "null"}, http.StatusForbidden},
		// Admitted: with no store configured, the handler answers 503.
		{"same origin with the token", map[string]string{"Cookie": cookie, csrfHeader: csrf, "Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		for _, r := range []struct{ method, path string }{
			{"DELETE", "/memproxy/ui/api/memories/m1"}, {"PUT", "/memproxy/ui/api/memories/m1"},
			{"DELETE", "/memproxy/ui/api/users/sarah"}, {"POST", "/memproxy/ui/api/outbox/dead/1/retry"},
		} {
			if w := serve(h, r.method, r.path, `{}`, tc.header); w.Code != tc.want {
				t.Errorf("%s: %s %s = %d, want %d (%s)", tc.name, r.method, r.path, w.Code, tc.want, w.Body)
			}
		}
	}
	// A login posted from another site is refused too (login CSRF).
	if w := login(h, testKey, map[string]string{"Sec-Fetch-Site": "cross-site"}); w.Code != http.StatusForbidden || sessionCookie(w) != nil {
		t.Errorf("cross-site login: %d", w.Code)
	}
	// Logging out takes the token as well.
	if w := serve(h, "POST", "/memproxy/ui/logout", "", map[string]string{"Cookie": cookie}); w.Code != http.StatusForbidden {
		t.Errorf("logout without the token: %d", w.Code)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	in := New(Options{APIKeys: []string{testKey}})
	h := engine(in)
	cookie, csrf := loggedIn(t, in, h)
	w := serve(h, "POST", "/memproxy/ui/logout", url.Values{"csrf": {csrf}}.Encode(),
		map[string]string{"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if c := sessionCookie(w); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout should clear the cookie: %v", c)
	}
	if w := serve(h, "GET", "/memproxy/ui/api/entities", "", map[string]string{"Cookie": cookie}); w.Code != http.StatusUnauthorized {
		t.Errorf("after logout the old session opens the API: %d", w.Code)
	}
}

func TestSessionExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := New(Options{APIKeys: []string{testKey}})
		h := engine(in)
		cookie, _ := loggedIn(t, in, h)
		api := func() int {
			return serve(h, "GET", "/memproxy/ui/api/users/sarah", "", map[string]string{"Cookie": cookie}).Code
		}
		time.Sleep(sessionTTL - time.Second) // the bubble's fake clock: no real wait
		if code := api(); code != http.StatusServiceUnavailable {
			t.Fatalf("a second before it expires the session is refused: %d", code)
		}
		time.Sleep(time.Second)
		if code := api(); code != http.StatusUnauthorized {
			t.Errorf("an expired session opens the API: %d", code)
		}
		if n := in.sessions.len(); n != 0 {
			t.Errorf("the expired session is still held (%d)", n)
		}
	})
}

func TestSessionsAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := New(Options{APIKeys: []string{testKey}})
		h := engine(in)
		first, _ := loggedIn(t, in, h)
		for range maxSessions + 10 {
			time.Sleep(time.Millisecond) // fake clock: each later session ends later
			loggedIn(t, in, h)
		}
		if n := in.sessions.len(); n != maxSessions {
			t.Errorf("%d sessions held, want at most %d", n, maxSessions)
		}
		if w := serve(h, "GET", "/memproxy/ui/api/entities", "", map[string]string{"Cookie": first}); w.Code != http.StatusUnauthorized {
			t.Errorf("the oldest session should have made room: %d", w.Code)
		}
		last, _ := loggedIn(t, in, h)
		if w := serve(h, "GET", "/memproxy/ui/api/users/x", "", map[string]string{"Cookie": last}); w.Code != http.StatusServiceUnavailable {
			t.Errorf("the newest session is refused: %d", w.Code)
		}
	})
}

func TestPagesAndAssetsAreServedWithTheirPolicy(t *testing.T) {
	h := engine(New(Options{APIKeys: []string{testKey}}))
	for _, path := range []string{"/memproxy/ui/", "/memproxy/ui/static/app.js", "/memproxy/ui/static/style.css"} {
		w := serve(h, "GET", path, "", nil)
		if w.Code != http.StatusOK || w.Body.Len() == 0 {
			t.Errorf("%s: %d", path, w.Code)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
	}
	// No session: the login form, never the inspector.
	if body := serve(h, "GET", "/memproxy/ui/", "", nil).Body.String(); !strings.Contains(body, `name="key"`) || strings.Contains(body, "csrf-token") {
		t.Error("without a session / should be the login form")
	}
	if w := serve(h, "GET", "/memproxy/ui/static/", "", nil); w.Code == http.StatusOK {
		t.Errorf("the assets' directory is listed: %d %s", w.Code, w.Body)
	}
}
