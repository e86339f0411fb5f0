// Package config reads the environment of CONTRACT.md. With nothing set it
// describes the embedded default: an in-process Temporal dev server, an
// in-process worker and SQLite under ./data, with the dev fixtures seeded.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/domain/auth"
)

// Config is the process configuration.
type Config struct {
	HTTPAddr          string
	TemporalAddress   string // empty: run the embedded dev server
	TemporalNamespace string
	TemporalDevPort   int
	TemporalUIPort    int // 0 turns the embedded Web UI off
	DatabaseURL       string
	DataDir           string
	CatalogFile       string // empty: the built-in dev catalog
	DevSeed           bool
	EmbeddedWorker    bool
	// NotifyAllowLoopback lets notification endpoints be on this host
	// (NOTIFY_ALLOW_LOOPBACK; default only in the embedded default, for
	// the ISV simulator). Private and link-local targets are never allowed.
	NotifyAllowLoopback bool
	// ConsoleSecureCookies marks the partner console's cookies Secure and
	// sends HSTS (CONSOLE_SECURE_COOKIES). Default: on unless HTTP_ADDR
	// is a loopback address. A listener others can reach serves people
	// through a TLS-terminating proxy; browsers keep Secure cookies for
	// http://localhost too, so only a plain-http listener reached by
	// another name needs it set to false.
	ConsoleSecureCookies bool
	// SecretsKey is the base64 key sealing webhook secrets; empty in the
	// embedded default means DATA_DIR/secrets.key, created on first start.
	SecretsKey string
	LogLevel   slog.Level
	// MetricsAddr (METRICS_ADDR) is where GET /metrics is served on a
	// listener of its own; the starter also serves it on HTTP_ADDR, and
	// the worker defaults it to 127.0.0.1:9090.
	MetricsAddr string
	// WorkflowCacheSize (WORKFLOW_CACHE_SIZE) bounds how many workflows
	// a worker keeps in memory between their tasks; default 2000.
	WorkflowCacheSize int
	// DatabaseMaxConns (DATABASE_MAX_CONNS, at least 2: migrating holds
	// one connection for its lock and works on another) bounds this
	// process's pool of Postgres connections; unset (0) keeps the store's
	// default (10). SQLite always uses one connection. Every API
	// and worker process has one pool, and Temporal's services have their
	// own on the same server: together they must stay under Postgres's
	// max_connections, or new connections fail with "too many clients"
	// under load (docs/deployment.md, "Connections").
	DatabaseMaxConns int
	// Pprof (PPROF=true) serves Go's profiles under /debug/pprof/ on
	// the METRICS_ADDR listener.
	Pprof bool
	// Lifecycle delays (Go durations, e.g. 720h): ACTIVATION_DEADLINE,
	// CANCELLATION_APPROVAL_TIMEOUT, RENEWAL_NOTICE. Zero keeps the
	// workflow's defaults (30 days, 7 days, 7 days).
	ActivationDeadline          time.Duration
	CancellationApprovalTimeout time.Duration
	RenewalNotice               time.Duration
	// PurchaseTimeout (PURCHASE_TIMEOUT) is how long a purchase waits for
	// its workflow to record it before answering 202 purchase_pending;
	// zero keeps the API's default (15 s).
	PurchaseTimeout time.Duration
	// TemporalGzip (TEMPORAL_GRPC_GZIP) compresses this process's gRPC
	// requests to Temporal (and so the answers). It pays across a network
	// with large payloads and costs processor time on both ends for
	// nothing on loopback, where the embedded server is: default true
	// only with TEMPORAL_ADDRESS set. Measured in docs/performance.md.
	TemporalGzip bool
	// AuthFailureLimit (AUTH_FAILURE_LIMIT) is how many failed
	// authentications one client address may make per minute before it
	// is answered 429; zero keeps the API's default (30).
	AuthFailureLimit int
	// PublicURL (PUBLIC_BASE_URL) is how clients reach this process's
	// HTTP listener, e.g. https://marketplace.example.com: the issuer of
	// its tokens, the base of Operation-Location and of the links it
	// gives. Empty: http:// and the address it listens on (loopback for
	// an unspecified one).
	PublicURL string
	// OIDC is the partners' identity provider (CONTRACT.md "Sign-in with
	// an identity provider"); nil when OIDC_ISSUER is unset.
	OIDC *OIDC
}

// OIDC is the sign-in with an identity provider: OIDC_ISSUER,
// OIDC_CLIENT_ID, OIDC_CLIENT_SECRET (all three, or none), the claims
// (OIDC_PARTNER_CLAIM, OIDC_GROUPS_CLAIM, OIDC_ADMIN_GROUP,
// OIDC_SALES_GROUP), OIDC_PARTNERS (organisation=partner, …), and
// optionally OIDC_API_AUDIENCE, OIDC_SCOPES and OIDC_PROVIDER_NAME.
type OIDC struct {
	Issuer, ClientID, ClientSecret string
	Directory                      auth.Directory
	APIAudience                    string
	Scopes                         []string
	ProviderName                   string
}

// LoopbackListener reports whether HTTP_ADDR listens on this host only:
// a loopback IP or "localhost" (":8080" listens on every interface).
func (c Config) LoopbackListener() bool {
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Embedded reports whether this process runs its own Temporal server.
func (c Config) Embedded() bool { return c.TemporalAddress == "" }

// TemporalDatabaseFile is the embedded server's SQLite file.
func (c Config) TemporalDatabaseFile() string { return filepath.Join(c.DataDir, "temporal.db") }

// TemporalVisibilityDatabaseFile is the embedded server's SQLite file of
// its visibility records (what the Web UI lists and searches).
func (c Config) TemporalVisibilityDatabaseFile() string {
	return filepath.Join(c.DataDir, "temporal-visibility.db")
}

// SecretsKeyFile is where the embedded default keeps its secrets key.
func (c Config) SecretsKeyFile() string { return filepath.Join(c.DataDir, "secrets.key") }

// FromEnv reads the configuration through getenv (os.Getenv in mains).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		HTTPAddr:          or(getenv("HTTP_ADDR"), "127.0.0.1:8080"),
		TemporalAddress:   strings.TrimSpace(getenv("TEMPORAL_ADDRESS")),
		TemporalNamespace: or(getenv("TEMPORAL_NAMESPACE"), "default"),
		DataDir:           or(getenv("DATA_DIR"), "./data"),
		CatalogFile:       getenv("CATALOG_FILE"),
		SecretsKey:        getenv("SECRETS_KEY"),
		MetricsAddr:       strings.TrimSpace(getenv("METRICS_ADDR")),
		PublicURL:         strings.TrimRight(strings.TrimSpace(getenv("PUBLIC_BASE_URL")), "/"),
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return c, fmt.Errorf("PUBLIC_BASE_URL %q: want http(s)://host[:port][/path]", c.PublicURL)
		}
	}
	var err error
	// TEMPORAL_DEV_PORT=0 lets the embedded server pick free ports (tests,
	// or a second instance beside a running one).
	if c.TemporalDevPort, err = port(getenv, "TEMPORAL_DEV_PORT", 7233, true); err != nil {
		return c, err
	}
	if strings.TrimSpace(getenv("TEMPORAL_UI_PORT")) == "auto" {
		c.TemporalUIPort = -1 // a free port, picked by the embedded server
	} else if c.TemporalUIPort, err = port(getenv, "TEMPORAL_UI_PORT", 8233, true); err != nil {
		return c, err
	}
	c.DatabaseURL = or(getenv("DATABASE_URL"), "sqlite://"+filepath.Join(c.DataDir, "app.db"))
	// The dev fixtures' tokens are documented: seeded by default only for
	// the embedded default on a loopback listener, where no one else can
	// use them. DEV_SEED=true seeds them anywhere, told so explicitly.
	if c.DevSeed, err = boolean(getenv, "DEV_SEED", c.Embedded() && c.LoopbackListener()); err != nil {
		return c, err
	}
	if c.EmbeddedWorker, err = boolean(getenv, "EMBEDDED_WORKER", c.Embedded()); err != nil {
		return c, err
	}
	if c.TemporalGzip, err = boolean(getenv, "TEMPORAL_GRPC_GZIP", !c.Embedded()); err != nil {
		return c, err
	}
	if c.Pprof, err = boolean(getenv, "PPROF", false); err != nil {
		return c, err
	}
	if c.ConsoleSecureCookies, err = boolean(getenv, "CONSOLE_SECURE_COOKIES", !c.LoopbackListener()); err != nil {
		return c, err
	}
	if c.NotifyAllowLoopback, err = boolean(getenv, "NOTIFY_ALLOW_LOOPBACK", c.Embedded()); err != nil {
		return c, err
	}
	for _, setting := range []struct {
		name     string
		dst      *int
		least    int
		fallback int
	}{
		{"WORKFLOW_CACHE_SIZE", &c.WorkflowCacheSize, 1, 2000},
		{"AUTH_FAILURE_LIMIT", &c.AuthFailureLimit, 1, c.AuthFailureLimit},
		{"DATABASE_MAX_CONNS", &c.DatabaseMaxConns, 2, 0},
	} {
		if *setting.dst, err = atLeast(getenv, setting.name, setting.least, setting.fallback); err != nil {
			return c, err
		}
	}
	if lvl := getenv("LOG_LEVEL"); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", lvl)
		}
	}
	for name, dst := range map[string]*time.Duration{
		"ACTIVATION_DEADLINE": &c.ActivationDeadline, "CANCELLATION_APPROVAL_TIMEOUT": &c.CancellationApprovalTimeout, "RENEWAL_NOTICE": &c.RenewalNotice,
		"PURCHASE_TIMEOUT": &c.PurchaseTimeout,
	} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("%s=%q: want a positive duration such as 720h or 90s", name, v)
			}
			*dst = d
		}
	}
	if c.OIDC, err = oidcFromEnv(getenv); err != nil {
		return c, err
	}
	if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite://") {
		return c, fmt.Errorf("DATABASE_URL=%q: want postgres://… or sqlite://path", c.DatabaseURL)
	}
	return c, nil
}

// oidcFromEnv reads the identity provider's settings: none, or enough to
// sign anyone in (a partial setting is an error at start, not a sign-in
// that fails later for everyone).
func oidcFromEnv(getenv func(string) string) (*OIDC, error) {
	o := &OIDC{
		// The issuer exactly as configured: it must equal the discovery
		// document's, trailing slash and all (Auth0's ends with one).
		Issuer: strings.TrimSpace(getenv("OIDC_ISSUER")), ClientID: strings.TrimSpace(getenv("OIDC_CLIENT_ID")),
		ClientSecret: strings.TrimSpace(getenv("OIDC_CLIENT_SECRET")), APIAudience: strings.TrimSpace(getenv("OIDC_API_AUDIENCE")),
		ProviderName: strings.TrimSpace(getenv("OIDC_PROVIDER_NAME")),
		Directory: auth.Directory{PartnerClaim: strings.TrimSpace(getenv("OIDC_PARTNER_CLAIM")), GroupsClaim: strings.TrimSpace(getenv("OIDC_GROUPS_CLAIM")),
			AdminGroup: strings.TrimSpace(getenv("OIDC_ADMIN_GROUP")), SalesGroup: strings.TrimSpace(getenv("OIDC_SALES_GROUP"))},
	}
	o.Scopes = strings.FieldsFunc(getenv("OIDC_SCOPES"), func(r rune) bool { return r == ' ' || r == ',' })
	if o.Issuer == "" && o.ClientID == "" && o.ClientSecret == "" {
		return nil, nil
	}
	u, err := url.Parse(o.Issuer)
	switch {
	case o.Issuer == "" || o.ClientID == "" || o.ClientSecret == "":
		return nil, fmt.Errorf("OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together: set all three, or none")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		u.User != nil || strings.ContainsAny(o.Issuer, " \t#") || u.String() != o.Issuer || u.Hostname() == "" || !validPort(u.Port()):
		return nil, fmt.Errorf("OIDC_ISSUER=%q: want the provider's issuer URL, https://host[/path]", o.Issuer)
	case o.Directory.PartnerClaim == "":
		return nil, fmt.Errorf("OIDC_PARTNER_CLAIM: name the claim that says a person's organisation (Entra ID: tid)")
	case o.Directory.AdminGroup == "" && o.Directory.SalesGroup == "":
		return nil, fmt.Errorf("OIDC_ADMIN_GROUP, OIDC_SALES_GROUP: name at least one group, or no one may sign in")
	}
	if o.Directory.Partners, err = auth.ParsePartners(getenv("OIDC_PARTNERS")); err != nil {
		return nil, err
	}
	if len(o.Directory.Partners) == 0 {
		return nil, fmt.Errorf("OIDC_PARTNERS: map at least one organisation to a partner (organisation=partner, …)")
	}
	return o, nil
}

// validPort reports whether a URL's port is absent or a port number.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535
}

func or(v, def string) string {
	if v = strings.TrimSpace(v); v == "" {
		return def
	}
	return v
}

func port(getenv func(string) string, name string, def int, zeroOK bool) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%s=%q: want a port number", name, v)
	}
	return n, nil
}

// atLeast reads a whole number of at least least, fallback when unset.
func atLeast(getenv func(string) string, name string, least, fallback int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return 0, fmt.Errorf("%s=%q: want a whole number of at least %d", name, v, least)
	}
	return n, nil
}

func boolean(getenv func(string) string, name string, def bool) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}
