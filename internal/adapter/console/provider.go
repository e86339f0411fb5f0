package console

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
)

// Sign-in with the partner's identity provider (OpenID Connect, the
// authorization code flow with PKCE): the console keeps what the callback
// needs on the server, under the hash of a random state, bound to the
// browser that began (a cookie of its own), and takes it once.

// providerCookie binds a sign-in under way to its browser. SameSite=Lax,
// not Strict: the provider's redirect back is a navigation from another
// site, which Strict cookies do not follow. One cookie per sign-in (its
// name ends with a digest of the state), so sign-ins begun in two tabs
// both end well.
const providerCookie = "console_provider_signin_"

// providerCookieName is the binding cookie's name for a state.
func providerCookieName(state string) string { return providerCookie + hashID(state)[:16] }

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
	state, nonce, browser, verifier := randomToken(), randomToken(), randomToken(), oauth2.GenerateVerifier()
	to, err := c.Identity.AuthCodeURL(r.Context(), state, nonce, verifier)
	if err != nil {
		c.Logger.Warn("console: identity provider unavailable", "error", err)
		metrics.NoteSignIn(r.Context(), "provider", "provider_unavailable")
		c.showSignIn(w, r, http.StatusServiceUnavailable, "signin.provider.unavailable")
		return
	}
	if err := c.Store.BeginSignIn(r.Context(), store.SignIn{StateHash: hashID(state), BrowserHash: hashID(browser), Nonce: nonce, Verifier: verifier}, c.Now()); err != nil {
		c.Logger.Error("console: begin sign-in", "error", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", nil, nil, "error.unavailable")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: providerCookieName(state), Value: browser, Path: "/sign-in/callback", HttpOnly: true, Secure: c.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(store.SignInLifetime.Seconds())})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// providerCallback ends a sign-in: the provider sent the browser back
// with a code (or an error) and the state.
func (c *Console) providerCallback(w http.ResponseWriter, r *http.Request) {
	if c.Identity == nil {
		c.notFound(w, r, nil)
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	var browser *http.Cookie
	if state != "" && len(state) <= 100 {
		browser, _ = r.Cookie(providerCookieName(state))
		http.SetCookie(w, &http.Cookie{Name: providerCookieName(state), Value: "", Path: "/sign-in/callback", HttpOnly: true, Secure: c.Secure,
			SameSite: http.SameSiteLaxMode, MaxAge: -1})
	}
	if browser == nil || browser.Value == "" || len(browser.Value) > 100 {
		metrics.NoteSignIn(r.Context(), "provider", "expired_or_replayed")
		c.showSignIn(w, r, http.StatusBadRequest, "signin.provider.expired")
		return
	}
	pending, err := c.Store.TakeSignIn(r.Context(), hashID(state), hashID(browser.Value), c.Now())
	if errors.Is(err, store.ErrNotFound) {
		// Replayed, begun by another browser, or too old: nothing
		// changes, the person begins again.
		metrics.NoteSignIn(r.Context(), "provider", "expired_or_replayed")
		c.showSignIn(w, r, http.StatusBadRequest, "signin.provider.expired")
		return
	}
	if err != nil {
		c.Logger.Error("console: sign-in callback", "error", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", nil, nil, "error.unavailable")
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
