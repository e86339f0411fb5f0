package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspmarket/orchestrator/internal/adapter/store/storetest"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
	"github.com/cspmarket/orchestrator/internal/tests/oidcprovider"
)

// Sign-in with the partner's identity provider (issue 29), against a real
// OpenID provider served in process (zitadel's example OP with the dev
// directory: Ada, admin, and Sam, sales, of partner-demo's organisation;
// Olga, admin of partner-other's; Nina, in neither group).

// startWithProvider starts the provider and the product configured for it.
func startWithProvider(t *testing.T, databaseURL string) (*product, *oidcprovider.Provider) {
	t.Helper()
	op, err := oidcprovider.Start("127.0.0.1:0", "marketplace-console", "console-secret-for-tests", oidcprovider.DevPeople())
	require.NoError(t, err)
	t.Cleanup(op.Close)
	p := startProduct(t, databaseURL,
		"OIDC_ISSUER", op.Issuer, "OIDC_CLIENT_ID", op.ClientID, "OIDC_CLIENT_SECRET", op.ClientSecret,
		"OIDC_PARTNER_CLAIM", oidcprovider.OrgClaim, "OIDC_ADMIN_GROUP", oidcprovider.AdminGroup, "OIDC_SALES_GROUP", oidcprovider.SalesGroup,
		"OIDC_PARTNERS", oidcprovider.DemoOrg+"=partner-demo,"+oidcprovider.OtherOrg+"=partner-other", "OIDC_PROVIDER_NAME", "Contoso ID")
	op.AllowRedirect(p.base+"/sign-in/callback", p.base+"/sign-in")
	return p, op
}

// signInAtProvider signs in through the provider's own login page.
func signInAtProvider(t *testing.T, ctx context.Context, base, username string) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#provider-signin`)),
	)
	assert.Equal(t, "Sign in with Contoso ID", strings.TrimSpace(run(t, ctx, chromedp.Text(chromedp.CSS(`#provider-signin`)))))
	screenshot(t, ctx, "sign-in-provider")
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`#provider-signin`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), username),
		chromedp.SendKeys(chromedp.CSS(`#password`), oidcprovider.DevPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
	)
}

func TestSignInWithTheIdentityProviderInABrowser(t *testing.T) {
	t.Parallel()
	p, _ := startWithProvider(t, "")

	// Ada, admin agent: her organisation's account, her name on every page.
	ada := newBrowser(t, nil)
	signInAtProvider(t, ada, p.base, "ada")
	do(t, ada, chromedp.WaitVisible(chromedp.CSS(`#name`)))
	assert.Equal(t, p.base+"/customers", run(t, ada, chromedp.Location()))
	assert.Contains(t, run(t, ada, chromedp.Text(chromedp.CSS(`.who`))), "Ada Admin")
	assert.Contains(t, run(t, ada, chromedp.Text(chromedp.CSS(`.who`))), "Admin agent")

	// She creates a customer and buys for them.
	do(t, ada,
		chromedp.SendKeys(chromedp.CSS(`#name`), "Contoso Pharmaceuticals"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.tabs`)),
		chromedp.Click(chromedp.CSS(`.actions a.button`)),
		chromedp.WaitVisible(chromedp.CSS(`input[value="contoso-demo/fast"]`)),
		chromedp.Click(chromedp.CSS(`input[value="contoso-demo/fast"]`)),
		chromedp.SetValue(chromedp.CSS(`#quantity`), "2"),
		chromedp.Submit(chromedp.CSS(`#quantity`)),
		chromedp.WaitVisible(chromedp.CSS(`#buy`)),
		chromedp.Click(chromedp.CSS(`#buy`)),
	)
	waitOnPage(t, ada, `document.querySelector("#publisher") !== null`)
	customers := p.do(http.MethodGet, "/v1/customers", "dev-admin-token", nil)
	var cs struct{ Items []struct{ ID, Name string } }
	customers.json(t, &cs)
	var customerID string
	for _, c := range cs.Items {
		if c.Name == "Contoso Pharmaceuticals" {
			customerID = c.ID
		}
	}
	require.NotEmpty(t, customerID)
	var bought struct{ Items []subscriptionJSON }
	p.do(http.MethodGet, "/v1/customers/"+customerID+"/subscriptions", "dev-admin-token", nil).json(t, &bought)
	require.Len(t, bought.Items, 1)
	sub := bought.Items[0]
	require.Equal(t, http.StatusAccepted, p.event("act-"+sub.ID, lifecycle.EventActivated, sub.ID, nil).status)
	p.waitStatus(customerID, sub.ID, lifecycle.StatusActive)

	// She changes the quantity; the audit trail names her.
	page := p.base + "/customers/" + customerID + "/subscriptions/" + sub.ID
	do(t, ada,
		chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#quantity`)),
		chromedp.SetValue(chromedp.CSS(`#quantity`), "3"),
		chromedp.Click(chromedp.CSS(`#change button[type=submit]`)),
	)
	waitOnPage(t, ada, `document.querySelector("#quantity") !== null && document.querySelector("#quantity").getAttribute("value") === "3"`)
	require.Equal(t, 3, p.get(customerID, sub.ID).Quantity)
	audit := run(t, ada, chromedp.Text(chromedp.CSS(`#audit`)))
	assert.Contains(t, audit, "Ada Admin")
	assert.NotContains(t, audit, "person:")
	screenshot(t, ada, "subscription-signed-in-person")
	var events struct {
		Items []struct{ Kind, Actor, ActorName string }
	}
	p.do(http.MethodGet, "/v1/customers/"+customerID+"/subscriptions/"+sub.ID+"/events", "dev-admin-token", nil).json(t, &events)
	byAda := 0
	for _, e := range events.Items {
		if strings.HasPrefix(e.Actor, "person:per_") {
			assert.Equal(t, "Ada Admin", e.ActorName, e.Kind)
			byAda++
		}
	}
	assert.Equal(t, 2, byAda, "the purchase and the change are hers: %+v", events.Items)

	// She signs out: of the console and of the provider, back at the
	// console's sign-in page; the session is over.
	do(t, ada, chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)))
	waitOnPage(t, ada, `location.pathname === "/sign-in" && document.querySelector("#provider-signin") !== null`)
	do(t, ada, chromedp.Navigate(p.base+"/customers"), chromedp.WaitVisible(chromedp.CSS(`#provider-signin`)))
	assert.Equal(t, p.base+"/sign-in", run(t, ada, chromedp.Location()))

	// Sam, sales agent: sees the subscription, may not change it.
	sam := newBrowser(t, nil)
	signInAtProvider(t, sam, p.base, "sam")
	do(t, sam, chromedp.WaitVisible(chromedp.CSS(`#name`)))
	do(t, sam, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#quantity`)))
	disabled := run(t, sam, chromedp.Evaluate[bool](`document.querySelector("#quantity").disabled && document.querySelector("#change button[type=submit]").disabled`))
	assert.True(t, disabled)
	assert.Contains(t, run(t, sam, chromedp.Text(chromedp.CSS(`#why-disabled`))), "Sales agents can buy but not change subscriptions")
	assert.Contains(t, run(t, sam, chromedp.Text(chromedp.CSS(`.who`))), "Sam Sales")

	// Olga, admin of another partner: not a line of partner-demo's.
	olga := newBrowser(t, nil)
	signInAtProvider(t, olga, p.base, "olga")
	do(t, olga, chromedp.WaitVisible(chromedp.CSS(`#name`)))
	assert.NotContains(t, run(t, olga, chromedp.Text(chromedp.CSS(`main`))), "Contoso Pharmaceuticals")
	do(t, olga, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	assert.Contains(t, run(t, olga, chromedp.Text(chromedp.CSS(`main`))), "not yours")

	// Nina, in neither group: a clear refusal, no session.
	nina := newBrowser(t, nil)
	signInAtProvider(t, nina, p.base, "nina")
	waitOnPage(t, nina, `document.querySelector(".banner") !== null`)
	assert.Contains(t, run(t, nina, chromedp.Text(chromedp.CSS(`.banner`))), "neither the admin agents' group nor the sales agents' group")
	screenshot(t, nina, "sign-in-refused")
	do(t, nina, chromedp.Navigate(p.base+"/customers"), chromedp.WaitVisible(chromedp.CSS(`#provider-signin`)))
}

// browser is a cookie-keeping HTTP client that follows no redirect.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// beginSignIn asks the console to sign in with the provider and returns
// where it sends the browser.
func beginSignIn(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/sign-in")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	require.NotNil(t, m)
	resp, err = c.PostForm(base+"/sign-in/provider", url.Values{"csrf": {string(m[1])}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	to := resp.Header.Get("Location")
	for _, want := range []string{"code_challenge=", "code_challenge_method=S256", "nonce=", "state=", "redirect_uri=" + url.QueryEscape(base+"/sign-in/callback")} {
		assert.Contains(t, to, want)
	}
	return to
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func sessionCookie(c *http.Client, base string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "console_session" {
			return ck.Value
		}
	}
	return ""
}

// A sign-in's state and code work once, for the browser that began it:
// a replay, another browser's callback, a used code and the provider's
// refusal change nothing.
func TestASignInsStateAndCodeWorkOnce(t *testing.T) {
	t.Parallel()
	p, op := startWithProvider(t, "")
	a := browser()
	back, err := op.LogIn(a, beginSignIn(t, a, p.base), "ada", oidcprovider.DevPassword)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(back.String(), p.base+"/sign-in/callback?"), back.String())

	// Another browser with the same callback (a link sent to a victim,
	// or stolen): refused, and the sign-in stays for its own browser.
	other := browser()
	status, body := get(t, other, back.String())
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "expired or was already used")
	assert.Empty(t, sessionCookie(other, p.base))

	status, _ = get(t, a, back.String())
	require.Equal(t, http.StatusOK, status)
	session := sessionCookie(a, p.base)
	require.NotEmpty(t, session)
	status, body = get(t, a, p.base+"/customers")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "Ada Admin")

	// The same callback again: nothing changes, the session goes on.
	status, _ = get(t, a, back.String())
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, session, sessionCookie(a, p.base))
	status, _ = get(t, a, p.base+"/customers")
	assert.Equal(t, http.StatusOK, status)

	// Revoked here: the session ends at its next request.
	require.NoError(t, p.app.Store.RevokePerson(context.Background(), personID(t, p, "Ada Admin")))
	status, _ = get(t, a, p.base+"/customers")
	assert.Equal(t, http.StatusSeeOther, status)

	// A new sign-in's state with the used code: the provider refuses
	// the code, no session comes of it.
	b := browser()
	fresh, err := url.Parse(beginSignIn(t, b, p.base))
	require.NoError(t, err)
	replayed := p.base + "/sign-in/callback?" + url.Values{"state": {fresh.Query().Get("state")}, "code": {back.Query().Get("code")}}.Encode()
	status, body = get(t, b, replayed)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, "could not be verified")
	assert.Empty(t, sessionCookie(b, p.base))

	// Two sign-ins begun in two tabs of one browser: both end well.
	tabs := browser()
	first, second := beginSignIn(t, tabs, p.base), beginSignIn(t, tabs, p.base)
	backSecond, err := op.LogIn(tabs, second, "sam", oidcprovider.DevPassword)
	require.NoError(t, err)
	backFirst, err := op.LogIn(tabs, first, "sam", oidcprovider.DevPassword)
	require.NoError(t, err)
	status, _ = get(t, tabs, backFirst.String())
	assert.Equal(t, http.StatusOK, status, "the first tab's")
	status, _ = get(t, tabs, backSecond.String())
	assert.Equal(t, http.StatusOK, status, "the second tab's")

	// The provider's refusal (the person cancelled there).
	c := browser()
	fresh, err = url.Parse(beginSignIn(t, c, p.base))
	require.NoError(t, err)
	status, _ = get(t, c, p.base+"/sign-in/callback?"+url.Values{"state": {fresh.Query().Get("state")}, "error": {"access_denied"}}.Encode())
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Empty(t, sessionCookie(c, p.base))

	// No binding cookie, no state, a made-up state.
	for _, u := range []string{"/sign-in/callback", "/sign-in/callback?state=made-up&code=x"} {
		status, _ = get(t, browser(), p.base+u)
		assert.Equal(t, http.StatusBadRequest, status, u)
	}
	_, metrics := get(t, browser(), p.base+"/metrics")
	for _, want := range []string{`marketplace_console_sign_ins_total{method="provider",outcome="signed_in"} 3`,
		`marketplace_console_sign_ins_total{method="provider",outcome="expired_or_replayed"} 4`,
		`marketplace_console_sign_ins_total{method="provider",outcome="not_verified"} 1`,
		`marketplace_console_sign_ins_total{method="provider",outcome="provider_refused"} 1`} {
		assert.Contains(t, metrics, want)
	}
}

// The API takes the provider's access tokens beside agent tokens, with
// the same roles and tenancy; forged, expired, wrong-audience and
// wrong-issuer tokens are refused (401).
func TestTheAPIAcceptsTheProvidersAccessTokens(t *testing.T) {
	t.Parallel()
	providerAccessTokens(t, "")
}

func TestTheAPIAcceptsTheProvidersAccessTokensOnPostgres(t *testing.T) {
	t.Parallel()
	providerAccessTokens(t, storetest.PostgresDatabase(t))
}

func providerAccessTokens(t *testing.T, databaseURL string) {
	p, op := startWithProvider(t, databaseURL)
	ctx := context.Background()
	token := func(username string) string {
		tokens, err := op.Tokens(ctx, username, oidcprovider.DevPassword)
		require.NoError(t, err)
		return tokens.AccessToken
	}
	ada, sam, olga, nina := token("ada"), token("sam"), token("olga"), token("nina")

	r := p.do(http.MethodPost, "/v1/customers", ada, map[string]string{"name": "Northwind"})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var customer struct{ ID string }
	r.json(t, &customer)
	r = p.do(http.MethodPost, "/v1/customers/"+customer.ID+"/subscriptions", sam, map[string]any{"offerId": "contoso-demo", "planId": "fast", "quantity": 1})
	require.Equal(t, http.StatusCreated, r.status, "a sales agent may buy: %s", r.body)
	sub := r.sub(t)

	r = p.do(http.MethodPatch, "/v1/customers/"+customer.ID+"/subscriptions/"+sub.ID, sam, map[string]any{"nickname": "mine"})
	assert.Equal(t, http.StatusForbidden, r.status, "a sales agent may not change: %s", r.body)
	assert.Equal(t, "role_forbidden", r.code(t))
	r = p.do(http.MethodGet, "/v1/customers/"+customer.ID, olga, nil)
	assert.Equal(t, http.StatusNotFound, r.status, "another partner's person sees nothing of it")
	r = p.do(http.MethodGet, "/v1/customers", nina, nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "not_a_partner_agent", r.code(t))

	var events struct {
		Items []struct{ Kind, Actor, ActorName string }
	}
	p.do(http.MethodGet, "/v1/customers/"+customer.ID+"/subscriptions/"+sub.ID+"/events", ada, nil).json(t, &events)
	require.NotEmpty(t, events.Items)
	assert.Equal(t, "Sam Sales", events.Items[0].ActorName, "the purchase is Sam's")

	now := time.Now()
	claims := func(change map[string]any) map[string]any { return op.Claims(op.ClientID, change) }
	good, err := op.Sign(claims(nil))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, p.do(http.MethodGet, "/v1/customers", good, nil).status, "the control")
	for name, change := range map[string]map[string]any{
		"expired":        {"exp": now.Add(-time.Minute).Unix()},
		"wrong audience": {"aud": []string{"another-api"}},
		"wrong issuer":   {"iss": "https://login.example.com"},
	} {
		bad, err := op.Sign(claims(change))
		require.NoError(t, err)
		r := p.do(http.MethodGet, "/v1/customers", bad, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, name)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`, name)
	}
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	assert.Equal(t, http.StatusUnauthorized, p.do(http.MethodGet, "/v1/customers", forged, nil).status, "forged signature")
	assert.Equal(t, http.StatusOK, p.do(http.MethodGet, "/v1/customers", "dev-admin-token", nil).status, "agent tokens keep working")

	// Sam is revoked here: his valid token is refused at once.
	require.Equal(t, http.StatusOK, p.do(http.MethodGet, "/v1/customers", sam, nil).status)
	require.NoError(t, p.app.Store.RevokePerson(ctx, personID(t, p, "Sam Sales")))
	assert.Equal(t, http.StatusUnauthorized, p.do(http.MethodGet, "/v1/customers", sam, nil).status)
}

// personID is the id of the person recorded with this name.
func personID(t *testing.T, p *product, name string) string {
	t.Helper()
	people, err := p.app.Store.People(context.Background())
	require.NoError(t, err)
	for _, person := range people {
		if person.Name == name {
			return person.ID
		}
	}
	t.Fatalf("no person named %s among %+v", name, people)
	return ""
}
