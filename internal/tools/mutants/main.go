// Command mutants applies small, plausible mistakes to money and lifecycle
// code one at a time and runs the tests that should notice each: a mutant
// that survives names a rule no test pins down. Run it by hand before
// calling a money or lifecycle change done (it is not part of CI):
//
//	go run ./internal/tools/mutants            # all
//	go run ./internal/tools/mutants -run prorat # those whose name matches
//
// It works on a copy of the working tree (tracked and untracked files), so
// the checkout is never touched, and exits 1 when a mutant survives.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// mutant is one mistake: the first occurrence of From in File becomes To,
// and the tests of Packages must then fail.
type mutant struct {
	Name, File, From, To string
	Packages             []string
}

var mutants = []mutant{
	{"proration rounds exact halves down", "internal/domain/billing/billing.go",
		"num.Add(num, big.NewInt(total))", "num.Add(num, big.NewInt(total-1))", []string{"./internal/domain/billing"}},
	{"last installment check off by one", "internal/domain/billing/billing.go",
		"if i == n-1 {", "if i == n-2 {", []string{"./internal/domain/billing"}},
	{"refund adds credits to the net", "internal/domain/billing/billing.go",
		"return -amount", "return amount", []string{"./internal/domain/billing", "./internal/domain/lifecycle", "./workflows"}},
	{"window open at its end", "internal/domain/lifecycle/state.go",
		"return end != nil && now.Before(*end)", "return end != nil && !now.After(*end)", []string{"./internal/domain/lifecycle", "./workflows"}},
	{"maximum quantity excluded", "internal/domain/fields/fields.go",
		"q < min || q > max", "q < min || q >= max", []string{"./internal/domain/fields", "./internal/domain/lifecycle", "./workflows"}},
	{"minimum quantity excluded", "internal/domain/fields/fields.go",
		"q < min || q > max", "q <= min || q > max", []string{"./internal/domain/fields", "./internal/domain/lifecycle", "./workflows"}},
	{"MAC compared on its first byte", "internal/adapter/signature/signature.go",
		"hmac.Equal(want, got)", "hmac.Equal(want[:1], got[:1])", []string{"./internal/adapter/signature"}},
	{"activation deadline of 60 days", "internal/domain/lifecycle/state.go",
		"ActivationDeadline: 30 * 24 * time.Hour", "ActivationDeadline: 60 * 24 * time.Hour", []string{"./internal/domain/lifecycle", "./workflows"}},
	{"commit gives up after one attempt's budget", "workflows/commit.go",
		"InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: CommitRetryMax,",
		"InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: CommitRetryMax, MaximumAttempts: 3,",
		[]string{"./workflows"}},
	{"control characters allowed in text", "internal/domain/fields/fields.go",
		"unicode.IsControl(r) || ", "false && unicode.IsControl(r) || ", []string{"./internal/domain/fields", "./internal/adapter/api", "./workflows"}},
	{"private addresses allowed as endpoints", "internal/adapter/egress/egress.go",
		"ip.IsPrivate() || ", "", []string{"./internal/adapter/egress", "./internal/adapter/api"}},
	{"redirects followed", "internal/adapter/egress/egress.go",
		"return http.ErrUseLastResponse", "return nil", []string{"./internal/adapter/egress"}},
	{"removed licences credited the full price", "internal/domain/lifecycle/terms.go",
		"s.Lots = lots.Add(delta, c.Amount, addedUntil, now)", "s.Lots = lots.Add(delta, int64(delta)*sched.PerLicence(s.NextInstallment-1), addedUntil, now)", []string{"./internal/domain/lifecycle", "./workflows"}},
	{"part of a batch credited rounded up", "internal/domain/billing/bounds.go",
		"q.Quo(q, big.NewInt(int64(of)))", "q.Add(q, big.NewInt(int64(of-1))).Quo(q, big.NewInt(int64(of)))", []string{"./internal/domain/billing"}},
	{"revoked codes still resolve", "internal/adapter/api/isv.go",
		"if code.RevokedAt != nil {", "if false {", []string{"./internal/adapter/api"}},
	{"every code request mints a new code", "internal/adapter/store/events.go",
		"if err == nil {\n\t\t\tplain, err := s.box.Open", "if false && err == nil {\n\t\t\tplain, err := s.box.Open", []string{"./internal/adapter/store"}},
	{"a batch's window ignored", "internal/domain/billing/lots.go",
		"if !at.Before(lot.AllowedUntil) {", "if false {", []string{"./internal/domain/billing", "./internal/domain/lifecycle", "./workflows"}},
	{"a batch's window open at its end", "internal/domain/billing/lots.go",
		"if !at.Before(lot.AllowedUntil) {", "if at.After(lot.AllowedUntil) {", []string{"./internal/domain/billing", "./internal/domain/lifecycle", "./workflows"}},
	{"invoice takes lines posted after its cutoff", "internal/adapter/store/invoices.go",
		`Where("c.posted_at < ?", utc(cutoff)).`, ``, []string{"./internal/adapter/store"}},
	{"credits count positive on invoices", "internal/adapter/store/invoices.go",
		"billing.Add(inv.Subtotal, billing.Signed(l.Kind, l.Amount))", "billing.Add(inv.Subtotal, l.Amount)", []string{"./internal/adapter/store"}},
	{"credits count positive in the unbilled totals", "internal/adapter/store/models.go",
		"func (l InvoiceLine) Signed() int64 { return billing.Signed(l.Kind, l.Amount) }", "func (l InvoiceLine) Signed() int64 { return l.Amount }",
		[]string{"./internal/adapter/api", "./internal/tests/e2e"}},
	{"invoice numbers per customer", "internal/adapter/store/invoices.go",
		`ColumnExpr("MAX(number)").Where("partner_id = ?", g.PartnerID)`, `ColumnExpr("MAX(number)").Where("customer_id = ?", g.CustomerID)`, []string{"./internal/adapter/store"}},
	// Blind to every money figure: the amount, and the unit price and
	// product that, with the quantity, imply it on exact lines.
	// Blind to every money figure: the amount, and the unit price and
	// product that, with the quantity, imply it on exact lines.
	{"ledger check blind to amounts", "internal/adapter/ledger/ledger.go",
		"		case c.Kind != w.kind || c.Amount != w.amount || c.Quantity != w.quantity:\n",
		"		case c.Kind != w.kind || c.Quantity != w.quantity:\n\t\t\tdiffs = append(diffs, \"kind or quantity\")\n\t\tcase true:\n\t\tcase false:\n",
		[]string{"./workflows"}},
	// Issue 25's findings, each a mistake its fix must keep out.
	{"valid credentials throttled with the address", "internal/adapter/api/partner.go",
		"		row, err := s.Store.AgentByTokenHash(r.Context(), auth.HashToken(token))\n",
		"		if _, blocked := s.authFailures.failed(r); blocked {\n\t\t\ts.refuseFailedAuthentication(w, r, \"\", \"\")\n\t\t\treturn\n\t\t}\n\t\trow, err := s.Store.AgentByTokenHash(r.Context(), auth.HashToken(token))\n",
		[]string{"./internal/adapter/api"}},
	{"an activation re-prices the purchase", "internal/adapter/api/isv.go",
		"e.Data.Quantity != 0 && e.Data.Quantity != sub.Quantity", "false", []string{"./internal/adapter/api"}},
	{"a change's Update id from its key alone", "internal/adapter/orchestrator/orchestrator.go",
		`return "patch-" + keyDigest(partnerID, key, reservedAt.UTC().Format(time.RFC3339Nano))`, `return "patch-" + keyDigest(partnerID, key)`, []string{"./internal/adapter/orchestrator"}},
	{"sales agents read the ledger", "internal/adapter/api/subscriptions.go",
		"if !allow(w, r, a, auth.PermBilling) {\n\t\treturn\n\t}\n\trow, ok := s.subscription(w, r, a)\n\tif !ok {\n\t\treturn\n\t}\n\tcharges",
		"if !allow(w, r, a, auth.PermRead) {\n\t\treturn\n\t}\n\trow, ok := s.subscription(w, r, a)\n\tif !ok {\n\t\treturn\n\t}\n\tcharges", []string{"./internal/adapter/api"}},
	{"a refund line copies the charge's quantity", "internal/domain/billing/billing.go",
		"Amount: times(int64(part.Quantity), part.UnitPrice), Currency: s.Currency, Quantity: part.Quantity,",
		"Amount: times(int64(part.Quantity), part.UnitPrice), Currency: s.Currency, Quantity: b.Quantity + 1,", []string{"./internal/domain/billing", "./internal/domain/lifecycle", "./workflows"}},
	{"added licences prorated as a total", "internal/domain/billing/billing.go",
		"c.Amount = times(int64(delta), c.UnitPrice)", "c.Amount = Prorate(times(int64(delta), s.PerLicence(i)), start, end, at)", []string{"./internal/domain/billing"}},
	{"a change that changes nothing records a step", "internal/domain/lifecycle/changes.go",
		"if rules.NoOpChangesRecordNothing && ChangesNothing(s, c) {", "if false {", []string{"./internal/domain/lifecycle", "./workflows"}},
	{"polling keeps a session alive", "internal/adapter/console/console.go",
		"c.signedInWithout(c.status)", "c.signedIn(c.status)", []string{"./internal/adapter/console"}},
	{"seeding brings a revoked token back", "internal/adapter/store/tenants.go",
		"token_hash = EXCLUDED.token_hash\").", "token_hash = EXCLUDED.token_hash, revoked_at = NULL\").", []string{"./internal/adapter/store"}},
	// Issue 29: sign-in with the identity provider.
	{"sign-in: the ID token's nonce not checked", "internal/adapter/identity/identity.go",
		"subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 || nonce == \"\"", "subtle.ConstantTimeCompare([]byte(nonce), []byte(nonce)) != 1 || nonce == \"\"", []string{"./internal/adapter/identity"}},
	{"sign-in: an ID token taken for an access token", "internal/adapter/identity/identity.go",
		"if !isAccessToken(headerType(accessToken), claims) {", "if false {", []string{"./internal/adapter/identity", "./internal/adapter/api"}},
	{"sign-in: a sealed sign-in taken for another state", "internal/adapter/console/provider.go",
		"subtle.ConstantTimeCompare([]byte(p.StateHash), []byte(hashID(state))) != 1", "false", []string{"./internal/adapter/console"}},
	{"sign-in: a sign-in never too old", "internal/adapter/console/provider.go",
		"age < -clockSkew || age > signInLifetime", "age < -clockSkew", []string{"./internal/adapter/console"}},
	{"sign-in: one login, two sessions", "internal/adapter/console/provider.go",
		"} else if !first {", "} else if false && !first {", []string{"./internal/adapter/console"}},
	{"sign-in: names from userinfo recorded as sent", "internal/adapter/store/people.go",
		"Name: auth.Shown(p.Name),", "Name: p.Name,", []string{"./internal/adapter/store"}},
	{"sign-in: the sales group wins", "internal/domain/auth/directory.go",
		"case d.AdminGroup != \"\" && slices.Contains(groups, d.AdminGroup):", "case d.AdminGroup != \"\" && slices.Contains(groups, d.AdminGroup) && !slices.Contains(groups, d.SalesGroup):", []string{"./internal/domain/auth"}},
	{"sign-in: keys fetched for every forged token", "internal/adapter/identity/keys.go",
		"if k.held != nil && time.Since(k.fetchedAt) < k.refreshEvery {", "if false {", []string{"./internal/adapter/identity"}},
	{"a key given twice keeps the last", "internal/adapter/api/problem.go",
		"return invalid(path, \"is given twice; send each field once (names are matched without case)\")", "return nil", []string{"./internal/adapter/api"}},
	{"amounts wrap on overflow", "internal/domain/billing/bounds.go",
		"	if p/b != a ||", "	if false && p/b != a ||", []string{"./internal/domain/billing"}},
	// Metered usage (issue 28).
	{"late usage charged again whole", "internal/domain/billing/billing.go",
		"if amount-beforeAmount <= 0 {", "if amount <= 0 {", []string{"./internal/domain/billing", "./internal/domain/lifecycle"}},
	{"usage accepted a moment past 24 hours", "internal/domain/metering/metering.go",
		"now.Sub(e.EffectiveStart) > Window", "now.Sub(e.EffectiveStart) > Window+time.Second", []string{"./internal/domain/metering"}},
	{"a claim retakes charged usage", "internal/adapter/store/usage.go",
		`Where("subscription_id = ?", subscriptionID).Where("claim_key IS NULL")`, `Where("subscription_id = ?", subscriptionID)`, []string{"./internal/adapter/store"}},
	{"an ended subscription stops before its last close", "internal/domain/lifecycle/usage.go",
		"(s.Meter == nil || s.Meter.DueAt.IsZero())", "true", []string{"./internal/domain/lifecycle", "./workflows"}},
	{"a plan change keeps the whole included quantity", "internal/domain/lifecycle/usage.go",
		"metering.Quantity(billing.IncludedUntil(int64(dims[i].IncludedQuantity), p.Start, p.End, now))", "dims[i].IncludedQuantity", []string{"./internal/domain/lifecycle"}},
	{"a suspended subscription keeps counting", "internal/domain/lifecycle/usage.go",
		"m.Open = false\n\t\t\tm.DueAt = now\n\t\t\tm.Gaps", "m.Open = true\n\t\t\tm.DueAt = now\n\t\t\tm.Gaps", []string{"./internal/domain/lifecycle", "./workflows"}},
}

func main() {
	run := flag.String("run", "", "only mutants whose name matches this regular expression")
	flag.Parse()
	filter := regexp.MustCompile(*run)

	root, err := os.Getwd()
	must(err)
	tmp, err := os.MkdirTemp("", "mutants-")
	must(err)
	defer os.RemoveAll(tmp)
	must(copyTree(root, tmp))

	survived := 0
	for _, m := range mutants {
		if !filter.MatchString(m.Name) {
			continue
		}
		path := filepath.Join(tmp, m.File)
		orig, err := os.ReadFile(path)
		must(err)
		if !bytes.Contains(orig, []byte(m.From)) {
			fmt.Printf("STALE     %-45s %q is no longer in %s\n", m.Name, m.From, m.File)
			survived++
			continue
		}
		must(os.WriteFile(path, bytes.Replace(orig, []byte(m.From), []byte(m.To), 1), 0o644))
		start := time.Now()
		cmd := exec.Command("go", append([]string{"test", "-count=1"}, m.Packages...)...)
		cmd.Dir = tmp
		out, err := cmd.CombinedOutput()
		must(os.WriteFile(path, orig, 0o644))
		switch {
		case err == nil:
			survived++
			fmt.Printf("SURVIVED  %-45s %s (%s)\n", m.Name, strings.Join(m.Packages, " "), time.Since(start).Round(time.Second))
		case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
			survived++
			fmt.Printf("NO BUILD  %-45s fix the mutant:\n%s\n", m.Name, out)
		default:
			fmt.Printf("killed    %-45s (%s)\n", m.Name, time.Since(start).Round(time.Second))
		}
	}
	if survived > 0 {
		fmt.Printf("%d mutant(s) survived\n", survived)
		os.Exit(1)
	}
	fmt.Println("every mutant was killed")
}

// copyTree copies the files git knows of (tracked, and untracked but not
// ignored) into dst.
func copyTree(src, dst string) error {
	out, err := exec.Command("git", "-C", src, "ls-files", "-co", "--exclude-standard", "-z").Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(src, name))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		} else if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, name)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
}
