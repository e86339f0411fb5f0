// Command testidp serves the tests' OpenID provider (zitadel's example OP
// with the dev directory) for trying the console's sign-in on a laptop:
//
//	go run ./internal/tools/testidp
//
// then start the product with the settings it prints. People: ada (admin
// agent) and sam (sales agent) of partner-demo's organisation, olga
// (admin of partner-other's), nina (in neither group); every password is
// oidcprovider.DevPassword. For development only: plain http, a secret
// everyone knows, people kept in memory.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"

	"github.com/cspmarket/orchestrator/internal/tests/oidcprovider"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9998", "where the provider listens (its issuer is http://ADDR)")
	console := flag.String("console", "http://127.0.0.1:8080", "the product's public base URL (its callback and sign-out return are registered)")
	flag.Parse()
	op, err := oidcprovider.Start(*addr, "marketplace-console", "dev-console-secret", oidcprovider.DevPeople())
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	base := strings.TrimRight(*console, "/")
	op.AllowRedirect(base+"/sign-in/callback", base+"/sign-in")
	fmt.Printf(`OpenID provider at %s (discovery: %s/.well-known/openid-configuration)

Start the product with:

  OIDC_ISSUER=%s OIDC_CLIENT_ID=%s OIDC_CLIENT_SECRET=%s \
  OIDC_PARTNER_CLAIM=%s OIDC_ADMIN_GROUP=%s OIDC_SALES_GROUP=%s \
  OIDC_PARTNERS=%s=partner-demo,%s=partner-other OIDC_PROVIDER_NAME="Test ID" \
  go run ./starter

then open %s and "Sign in with Test ID" as ada, sam, olga or nina (password %s).
`, op.Issuer, op.Issuer, op.Issuer, op.ClientID, op.ClientSecret, oidcprovider.OrgClaim, oidcprovider.AdminGroup, oidcprovider.SalesGroup,
		oidcprovider.DemoOrg, oidcprovider.OtherOrg, base, oidcprovider.DevPassword)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
}
