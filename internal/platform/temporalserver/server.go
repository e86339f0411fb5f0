// Package temporalserver runs a Temporal dev server and its Web UI inside
// this process, over a SQLite file, for the embedded default: one `go run
// ./starter` and a newcomer has the whole product, state kept across
// restarts. Production points at a real cluster instead (TEMPORAL_ADDRESS).
package temporalserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"

	// SQLite in this process allocates through it (see the package).
	_ "github.com/cspmarket/orchestrator/internal/platform/sqlitemem"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options describe the embedded server.
type Options struct {
	// DatabaseFile is the SQLite file of the server's state; empty keeps
	// the state in memory (tests).
	DatabaseFile string
	// VisibilityDatabaseFile is the SQLite file of the server's visibility
	// records (visibility.go); empty keeps them in DatabaseFile.
	VisibilityDatabaseFile string
	// IP the listeners bind to; default 127.0.0.1.
	IP string
	// FrontendPort is the gRPC port clients dial (7233 by convention); 0
	// picks a free one (with a free HTTP port 10 above it).
	FrontendPort int
	// UIPort serves the Web UI; 0 means no UI, a negative value a free port.
	UIPort int
	// Namespace to create; default "default".
	Namespace string
	// SearchAttributes to register on the namespace (all idempotent).
	SearchAttributes map[string]enumspb.IndexedValueType
	// LogLevel of the server's own logs; default error (at warn it reports
	// every poll its own system workers lose during a clean shutdown).
	LogLevel zapcore.Level
	Logger   *slog.Logger
}

// Server is a running embedded Temporal.
type Server struct {
	server       temporal.Server
	ui           *uiserver.Server
	frontendAddr string
	uiAddr       string
	namespace    string
	relax        *time.Timer
}

// searchAttributeCacheTTL is how long the server's services keep their
// search attribute cache (go.temporal.io/server/common/searchattribute).
const searchAttributeCacheTTL = 60 * time.Second

// Start brings up the server, registers the namespace's search attributes
// and, if asked, the Web UI. It returns once the namespace is usable.
func Start(ctx context.Context, opts Options) (*Server, error) {
	autoPorts := opts.FrontendPort == 0
	for attempt := 1; ; attempt++ {
		s, err := startOnce(ctx, opts)
		// Ports this start picked can be taken, between the pick and the
		// server's bind, by a process that binds a random port without
		// the lock (a browser, an HTTP listener on :0): pick again.
		if err == nil || !autoPorts || attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			return s, err
		}
		if opts.Logger != nil {
			opts.Logger.Warn("a port picked for the embedded Temporal server was taken before the server bound it; picking others", "error", err)
		}
	}
}

func startOnce(ctx context.Context, opts Options) (*Server, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogLevel == 0 {
		opts.LogLevel = zapcore.ErrorLevel
	}
	// Free ports are found by binding and releasing them; until the server
	// binds them itself another start could pick the same ones, so starts
	// are serialised: in this process, and across the processes of this
	// machine by a file lock (test packages run at once, and the fault
	// suite's servers are processes of their own). A lost bind is fatal
	// to the Web UI's server.
	startMu.Lock()
	defer startMu.Unlock()
	unlock := lockMachineWide(filepath.Join(os.TempDir(), "cspmarket-temporal-ports.lock"))
	defer unlock()
	var err error
	if opts.FrontendPort == 0 {
		if opts.FrontendPort, err = freePortPair(opts.IP); err != nil {
			return nil, err
		}
	}
	if opts.UIPort < 0 {
		if opts.UIPort, err = freePort(opts.IP); err != nil {
			return nil, err
		}
	}
	// The server ends the whole process through its fatal logger when a
	// port is taken, so every fixed port is checked first.
	frontendHTTPPort := opts.FrontendPort + 10
	for _, p := range []struct {
		name string
		port int
	}{{"Temporal frontend (TEMPORAL_DEV_PORT)", opts.FrontendPort}, {"Temporal frontend HTTP (TEMPORAL_DEV_PORT+10)", frontendHTTPPort}, {"Temporal Web UI (TEMPORAL_UI_PORT)", opts.UIPort}} {
		if p.port == 0 {
			continue
		}
		if err := checkPortFree(opts.IP, p.port); err != nil {
			return nil, fmt.Errorf("%s port %d is not free: %w (is another starter or `temporal server start-dev` running?)", p.name, p.port, err)
		}
	}

	sqlConf, err := sqlConfig(opts)
	if err != nil {
		return nil, err
	}
	// A namespace created now has its search attributes from the start
	// (registerSearchAttributes then finds them all and need not wait for
	// the services to see them); one that exists keeps what it has.
	nsConf, err := sqliteschema.NewNamespaceConfig("active", opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, err
	}
	// Retention of closed workflows: a week, so operators can still look
	// at a cancelled subscription's history in the Web UI.
	nsConf.Detail.Config.Retention = durationProto(7 * 24 * time.Hour)
	if err := sqliteschema.CreateNamespaces(sqlConf, nsConf); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}

	visConf, err := visibilityConfig(opts, sqlConf)
	if err != nil {
		return nil, err
	}
	conf, err := serverConfig(opts, sqlConf, visConf, frontendHTTPPort)
	if err != nil {
		return nil, err
	}
	zl := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(os.Stderr), opts.LogLevel))
	logger := log.NewZapLogger(zl)
	dyn := dynamicconfig.NewMemoryClient()
	for key, value := range SharedDynamicConfig {
		dyn.OverrideValue(key, value)
	}
	for key, value := range map[dynamicconfig.Key]any{
		// Workflows' mutable state kept in memory: bounded so the embedded
		// server's memory does not grow with the open subscriptions.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 2048,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	} {
		dyn.OverrideValue(key, value)
	}
	// Search attributes registered a moment ago must be usable at once (a
	// workflow that upserts an unknown one retries its task until they
	// are), so every read reloads them from the database until each
	// service's cache is sure to have them; then that cost (a database
	// read per upsert and per start) stops.
	forceRefresh := dyn.OverrideValue(dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(), true)
	hosts := map[primitives.ServiceName]static.Hosts{}
	for _, svc := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(opts.IP, strconv.Itoa(conf.Services[string(svc)].RPC.GRPCPort)))
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("build Temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start Temporal server: %w", err)
	}
	s := &Server{server: srv, frontendAddr: net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort)), namespace: opts.Namespace}
	added, err := s.registerSearchAttributes(ctx, opts.SearchAttributes)
	if err != nil {
		s.Stop()
		return nil, err
	}
	if added {
		// A cache loaded before they were added is stale until it
		// expires; past that every service reloads on its own.
		s.relax = time.AfterFunc(searchAttributeCacheTTL+2*time.Second, forceRefresh)
	} else {
		forceRefresh() // they were in the database before any cache was loaded
	}
	if opts.UIPort != 0 {
		// Built only now: the UI dials the frontend at once, and built
		// earlier its first calls fail for several seconds.
		s.uiAddr = net.JoinHostPort(opts.IP, strconv.Itoa(opts.UIPort))
		s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
			Host:                opts.IP,
			Port:                opts.UIPort,
			TemporalGRPCAddress: s.frontendAddr,
			EnableUI:            true,
			DefaultNamespace:    opts.Namespace,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true,
		}))
		go func() {
			if err := s.ui.Start(); err != nil && !errors.Is(err, context.Canceled) {
				opts.Logger.Error("Temporal Web UI stopped", "error", err)
			}
		}()
		// Return (and let another start pick ports) only once the UI
		// holds its port.
		waitListening(s.uiAddr, 5*time.Second)
	}
	return s, nil
}

// SharedDynamicConfig is the Temporal server tuning every shape of the
// product runs with: the embedded server applies it, and the production
// shape's files (deploy/temporal/dynamicconfig.yaml, the one
// deploy/local-cluster.sh writes) must say the same (a test compares).
var SharedDynamicConfig = map[dynamicconfig.Key]any{
	// A workflow task that schedules an activity on this task queue gets
	// it back in the same answer: no matching round trip per step.
	dynamicconfig.EnableActivityEagerExecution.Key(): true,
	// A new workflow task (the purchase's first, and the one each ISV
	// signal schedules) reaches matching only when the history shard's
	// transfer queue reads it from the database, and the server's default
	// lets that reader poll a shard at most 20 times a second. Under load
	// every task then waited for the next poll: 29 ms at the median and
	// 61 ms at p99 between a task being scheduled and a worker starting
	// it, at 23.5 purchases a second on two cores, against 2 and 13 ms at
	// 200 polls a second. Each poll is one indexed range read, and at
	// full load the reads still come in batches (docs/performance.md).
	dynamicconfig.TransferProcessorMaxPollRPS.Key(): 200,
}

// FrontendAddress is the host:port SDK clients dial.
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIAddress is the host:port of the Web UI, or "" without one.
func (s *Server) UIAddress() string { return s.uiAddr }

// Stop shuts the UI and the server down.
func (s *Server) Stop() {
	if s.relax != nil {
		s.relax.Stop()
	}
	if s.ui != nil {
		s.ui.Stop()
	}
	_ = s.server.Stop()
}

// registerSearchAttributes adds the attributes the namespace lacks. It is
// done through the operator API after start because attributes given at
// namespace creation are ignored when the namespace already exists (a
// restart, or a release that adds one).
func (s *Server) registerSearchAttributes(ctx context.Context, attrs map[string]enumspb.IndexedValueType) (added bool, err error) {
	if len(attrs) == 0 {
		return false, nil
	}
	c, err := client.Dial(client.Options{HostPort: s.frontendAddr, Namespace: s.namespace, Logger: quietSDKLogger{}})
	if err != nil {
		return false, fmt.Errorf("dial embedded Temporal: %w", err)
	}
	defer c.Close()
	return RegisterSearchAttributes(ctx, c, s.namespace, attrs)
}

// RegisterSearchAttributes adds the attributes the namespace lacks and
// says whether it added any; an attribute registered with another type
// is an error.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enumspb.IndexedValueType) (added bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	existing, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return false, fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range attrs {
		if have, ok := existing.GetCustomAttributes()[name]; ok {
			if have != typ {
				return false, fmt.Errorf("%w: %s is %s, want %s", ErrSearchAttributeType, name, have, typ)
			}
			continue
		}
		missing[name] = typ
	}
	if len(missing) == 0 {
		return false, nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	var exists *serviceerror.AlreadyExists
	if errors.As(err, &exists) {
		// Another process added them meanwhile: check their types.
		if _, err = RegisterSearchAttributes(ctx, c, namespace, attrs); err != nil {
			return false, err
		}
		return false, waitUntilMapped(ctx, c, namespace, missing)
	}
	if err != nil {
		return false, fmt.Errorf("add search attributes: %w", err)
	}
	return true, waitUntilMapped(ctx, c, namespace, missing)
}

// namespaceCacheRefresh is how often each Temporal service reloads its
// namespaces (system.namespaceCacheRefreshInterval, 2 s by default).
const namespaceCacheRefresh = 2 * time.Second

// waitUntilMapped returns once the frontend maps every attribute of
// attrs, and one refresh later. An attribute added through the operator
// API becomes an alias in the namespace, which each service sees only
// when it next reloads its namespaces: until then a start naming it fails
// with "no mapping defined for search attribute" (a purchase answered 500
// on a cluster just set up). A visibility count naming them all fails the
// same way until the frontend that answers has reloaded; the others
// (history, other frontends) reload within one more refresh.
func waitUntilMapped(ctx context.Context, c client.Client, namespace string, attrs map[string]enumspb.IndexedValueType) error {
	query := probeQuery(attrs)
	for {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err == nil {
			break
		}
		var invalid *serviceerror.InvalidArgument
		if !errors.As(err, &invalid) {
			return fmt.Errorf("check search attributes: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes registered but not usable yet: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(namespaceCacheRefresh):
		return nil
	}
}

// probeQuery is a visibility query naming every attribute, each compared
// with a value of its type.
func probeQuery(attrs map[string]enumspb.IndexedValueType) string {
	names := slices.Sorted(maps.Keys(attrs))
	terms := make([]string, 0, len(names))
	for _, name := range names {
		value := `"probe"`
		switch attrs[name] {
		case enumspb.INDEXED_VALUE_TYPE_INT, enumspb.INDEXED_VALUE_TYPE_DOUBLE:
			value = "0"
		case enumspb.INDEXED_VALUE_TYPE_BOOL:
			value = "false"
		case enumspb.INDEXED_VALUE_TYPE_DATETIME:
			value = `"1970-01-01T00:00:00Z"`
		}
		terms = append(terms, name+" = "+value)
	}
	return strings.Join(terms, " AND ")
}

// ErrSearchAttributeType is a search attribute registered with another
// type than the product's: an operator must resolve it, retrying cannot.
var ErrSearchAttributeType = errors.New("a search attribute exists with another type")

// SetUpNamespace registers the namespace on an external cluster, with
// retention, unless it exists, then its search attributes: what a fresh
// cluster needs before workers and starters use it.
func SetUpNamespace(ctx context.Context, c client.Client, namespace string, retention time.Duration, attrs map[string]enumspb.IndexedValueType) error {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: namespace, WorkflowExecutionRetentionPeriod: durationProto(retention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if errors.As(err, &exists) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", namespace, err)
	}
	_, err = RegisterSearchAttributes(ctx, c, namespace, attrs)
	return err
}

func sqlConfig(opts Options) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if opts.DatabaseFile == "" {
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = "temporal-" + uuid.NewString()
		return conf, nil
	}
	// WAL with synchronous=normal doubles the start rate of a plain file
	// and still survives a process crash (only an OS crash may lose the
	// last transactions).
	conf.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal", "busy_timeout": "10000"}
	conf.DatabaseName = opts.DatabaseFile
	if _, err := os.Stat(opts.DatabaseFile); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o700); err != nil {
			return nil, err
		}
		if err := sqliteschema.SetupSchema(conf); err != nil {
			_ = os.Remove(opts.DatabaseFile)
			return nil, fmt.Errorf("set up Temporal schema in %s: %w", opts.DatabaseFile, err)
		}
	} else if err != nil {
		return nil, err
	}
	return conf, nil
}

func serverConfig(opts Options, sqlConf, visConf *config.SQL, frontendHTTPPort int) (*config.Config, error) {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = opts.IP
	conf.Persistence.DefaultStore = "sqlite-default"
	conf.Persistence.VisibilityStore = "sqlite-visibility"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}, "sqlite-visibility": {SQL: visConf}}
	frontend := net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            net.JoinHostPort(opts.IP, strconv.Itoa(frontendHTTPPort)),
				ClusterID:              uuid.NewString(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		var svc config.Service
		svc.RPC.BindOnIP = opts.IP
		if name == "frontend" {
			svc.RPC.GRPCPort = opts.FrontendPort
			svc.RPC.HTTPPort = frontendHTTPPort
		} else {
			p, err := freePort(opts.IP)
			if err != nil {
				return nil, err
			}
			svc.RPC.GRPCPort = p
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return &conf, nil
}

var startMu sync.Mutex

func waitListening(addr string, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
