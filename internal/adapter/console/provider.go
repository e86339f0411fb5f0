package console

import (
	"cmp"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
)

// Sign-in with the partner's identity provider (OpenID Connect, the
// authorization code flow with PKCE). What the callback needs (the nonce,
// the PKCE verifier) travels sealed (AES-GCM, SECRETS_KEY) in a cookie of
// the browser that began, named by the state: nothing is written for a
// request no one has authenticated yet, any instance can end the sign-in,
// and a callback without that browser's cookie (another browser's, a
// link sent to a victim, a replay after it was used) finds nothing.

// providerCookie holds a sign-in under way. SameSite=Lax, not Strict:
// the provider's redirect back is a navigation from another site, which
// Strict cookies do not follow. One cookie per sign-in, so sign-ins begun
// in two tabs both end well; at most keptSignIns of them (a new sign-in
// forgets the oldest: abandoned ones would otherwise grow every request's
// headers past what proxies take). Over TLS the name has the __Host-
// prefix: no sibling domain nor plain-http attacker can plant one.
const providerCookie = "console_provider_signin_"

// signInLifetime is how long a person has at the provider's login page;
// clockSkew how far apart the clocks of the instances that began and end
// a sign-in may be.
const (
	signInLifetime = 10 * time.Minute
	clockSkew      = time.Minute
	keptSignIns    = 3
	maxForgotten   = 10
)

// providerCookieName is the cookie's name for a state.
func (c *Console) providerCookieName(state string) string {
	name := providerCookie + hashID(state)[:16]
	if c.Secure {
		return "__Host-" + name
	}
	return name
}

// pendingSignIn is a sign-in under way, as sealed in its cookie.
type pendingSignIn struct {
	StateHash string `json:"s"`
	Nonce     string `json:"n"`
	Verifier  string `json:"v"`
	Began     int64  `json:"t"`
}

// beginProviderSignIn sends the browser to the provider's login page.
func (c *Console) beginProviderSignIn(w http.ResponseWriter, r *http.Request) {
	if c.Identity == nil {
		c.notFound(w, r, nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	pre, _ := r.Cookie(preCSRFCookie)
	if err := r.ParseForm(); err != nil || pre == nil || pre.Value == "" || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(pre.Value)) != 1 {
		c.render(w, r, http.StatusForbidden, "error", nil, nil, "error.csrf")
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	to, err := c.Identity.AuthCodeURL(r.Context(), state, nonce, verifier)
	if err != nil {
		c.Logger.Warn("console: identity provider unavailable", "error", err)
		metrics.NoteSignIn(r.Context(), "provider", "provider_unavailable")
		c.showSignIn(w, r, http.StatusServiceUnavailable, "signin.provider.unavailable")
		return
	}
	plain, _ := json.Marshal(pendingSignIn{StateHash: hashID(state), Nonce: nonce, Verifier: verifier, Began: c.Now().Unix()})
	sealed, err := c.Box.Seal(plain)
	if err != nil {
		c.Logger.Error("console: begin sign-in", "error", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", nil, nil, "error.unavailable")
		return
	}
	c.forgetOldSignIns(w, r)
	http.SetCookie(w, c.providerCookie(c.providerCookieName(state), base64.RawURLEncoding.EncodeToString(sealed), int(signInLifetime.Seconds())))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (c *Console) providerCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

// forgetOldSignIns removes this browser's sign-ins under way but the
// newest keptSignIns-1 (and any it cannot read), before a new one is
// added; at most maxForgotten in one answer, so that a request carrying
// thousands of cookies is not answered with thousands of headers.
func (c *Console) forgetOldSignIns(w http.ResponseWriter, r *http.Request) {
	type held struct {
		name  string
		began int64
	}
	var forget []string
	var all []held
	for _, ck := range r.Cookies() {
		if !strings.HasPrefix(strings.TrimPrefix(ck.Name, "__Host-"), providerCookie) {
			continue
		}
		if p, ok := c.open(ck.Value); ok {
			all = append(all, held{ck.Name, p.Began})
		} else {
			forget = append(forget, ck.Name)
		}
	}
	slices.SortFunc(all, func(a, b held) int { return cmp.Compare(b.began, a.began) })
	for i, h := range all {
		if i >= keptSignIns-1 {
			forget = append(forget, h.name)
		}
	}
	for i, name := range forget {
		if i == maxForgotten {
			break
		}
		http.SetCookie(w, c.providerCookie(name, "", -1))
	}
}

// open is a sign-in under way as its cookie holds it.
func (c *Console) open(value string) (pendingSignIn, bool) {
	if len(value) > 1024 {
		return pendingSignIn{}, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return pendingSignIn{}, false
	}
	plain, err := c.Box.Open(sealed)
	if err != nil {
		return pendingSignIn{}, false
	}
	var p pendingSignIn
	if json.Unmarshal(plain, &p) != nil {
		return pendingSignIn{}, false
	}
	return p, true
}

// pending is the sign-in under way that this browser began with this
// state, fresh; its cookie is spent (a callback is answered once).
func (c *Console) pending(w http.ResponseWriter, r *http.Request, state string) (pendingSignIn, bool) {
	if state == "" || len(state) > 100 {
		return pendingSignIn{}, false
	}
	name := c.providerCookieName(state)
	ck, err := r.Cookie(name)
	if err != nil {
		return pendingSignIn{}, false
	}
	http.SetCookie(w, c.providerCookie(name, "", -1))
	p, ok := c.open(ck.Value)
	if !ok || subtle.ConstantTimeCompare([]byte(p.StateHash), []byte(hashID(state))) != 1 {
		return pendingSignIn{}, false
	}
	if age := c.Now().Sub(time.Unix(p.Began, 0)); age < -clockSkew || age > signInLifetime {
		return pendingSignIn{}, false
	}
	return p, true
}

// providerCallback ends a sign-in: the provider sent the browser back
// with a code (or an error) and the state.
func (c *Console) providerCallback(w http.ResponseWriter, r *http.Request) {
	if c.Identity == nil {
		c.notFound(w, r, nil)
		return
	}
	q := r.URL.Query()
	pending, ok := c.pending(w, r, q.Get("state"))
	if !ok {
		// Replayed, begun by another browser, or too old: nothing
		// changes, the person begins again.
		metrics.NoteSignIn(r.Context(), "provider", "expired_or_replayed")
		c.showSignIn(w, r, http.StatusBadRequest, "signin.provider.expired")
		return
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		// The provider's own refusal (the person cancelled, or is not
		// allowed to use the application there).
		c.Logger.Info("console: the identity provider refused a sign-in", "error", truncate(q.Get("error"), 64))
		metrics.NoteSignIn(r.Context(), "provider", "provider_refused")
		c.showSignIn(w, r, http.StatusUnauthorized, "signin.provider.refused")
		return
	}
	signedIn, err := c.Identity.Exchange(r.Context(), q.Get("code"), pending.Verifier, pending.Nonce)
	if err != nil {
		c.providerFailed(w, r, err)
		return
	}
	// One login, one session: a callback that arrives twice at once
	// (the cookie sent with both) may find a provider that exchanged the
	// code twice.
	if first, err := c.Store.SpendSignIn(r.Context(), pending.StateHash, c.Now()); err != nil {
		c.Logger.Error("console: spend sign-in", "error", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", nil, nil, "error.unavailable")
		return
	} else if !first {
		metrics.NoteSignIn(r.Context(), "provider", "expired_or_replayed")
		c.showSignIn(w, r, http.StatusBadRequest, "signin.provider.expired")
		return
	}
	p := signedIn.Person
	person, err := c.Store.RecordPerson(r.Context(), store.PersonSeen{Issuer: c.Identity.Issuer(), Subject: p.Subject, PartnerID: p.PartnerID,
		Name: p.Name, Email: p.Email, Role: string(p.Role)}, c.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.Logger.Warn("console: the directory maps an organisation to an unknown partner", "partner", p.PartnerID)
		metrics.NoteSignIn(r.Context(), "provider", "unknown_partner")
		c.showSignIn(w, r, http.StatusForbidden, "signin.refused.partner")
		return
	case err != nil:
		c.Logger.Error("console: record person", "error", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", nil, nil, "error.unavailable")
		return
	case person.RevokedAt != nil:
		metrics.NoteSignIn(r.Context(), "provider", "revoked")
		c.showSignIn(w, r, http.StatusForbidden, "signin.refused.revoked")
		return
	}
	if !c.startSession(w, r, "provider", store.NewConsoleSession{PersonID: person.ID, PartnerID: p.PartnerID, Role: string(p.Role), Secret: signedIn.IDToken}) {
		return
	}
	// A page of this site, not a redirect, moves on to the customers:
	// the browser arrived from the provider's site, and the session
	// cookie (SameSite=Strict) goes only with a navigation begun here.
	c.render(w, r, http.StatusOK, "signedin", nil, nil, "")
}

// providerFailed says why a sign-in at the provider did not end in a
// session.
func (c *Console) providerFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, auth.ErrNoRole):
		metrics.NoteSignIn(r.Context(), "provider", "no_role")
		c.showSignIn(w, r, http.StatusForbidden, "signin.refused.role")
	case errors.Is(err, auth.ErrUnknownPartner):
		metrics.NoteSignIn(r.Context(), "provider", "unknown_partner")
		c.showSignIn(w, r, http.StatusForbidden, "signin.refused.partner")
	case errors.Is(err, auth.ErrNoSubject), errors.Is(err, identity.ErrInvalidToken):
		c.Logger.Warn("console: sign-in refused", "reason", err)
		metrics.NoteSignIn(r.Context(), "provider", "not_verified")
		c.showSignIn(w, r, http.StatusUnauthorized, "signin.provider.failed")
	default:
		c.Logger.Warn("console: identity provider unavailable", "error", err)
		metrics.NoteSignIn(r.Context(), "provider", "provider_unavailable")
		c.showSignIn(w, r, http.StatusServiceUnavailable, "signin.provider.unavailable")
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
