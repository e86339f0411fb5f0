package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/wire"
)

// names are the catalog's names of offers and plans: the API answers ids,
// a partner reads names.
type names map[string]offerView

func namesOf(offers []offerView) names {
	n := names{}
	for _, o := range offers {
		n[o.ID] = o
	}
	return n
}

// Offer is the offer's name, or its id when the catalog has none.
func (n names) Offer(id string) string {
	if o, ok := n[id]; ok && o.Name != "" {
		return o.Name
	}
	return id
}

// Plan is the plan's name, or its id when the catalog has none.
func (n names) Plan(offerID, planID string) string {
	if p, ok := n[offerID].Plan(planID); ok && p.Name != "" {
		return p.Name
	}
	return planID
}

// auditRow is one line of the audit trail as a person reads it: what
// happened in words, its facts, and who did it by name. The API keeps the
// raw kinds and actors.
type auditRow struct {
	At               time.Time
	What, Facts, Who string
}

// auditRows are the audit trail's lines in lang. The outbox's messages
// (one "notification" line each in the API) are plumbing, not events of
// the subscription: they are left out.
func auditRows(lang string, lines []wire.Event) []auditRow {
	rows := make([]auditRow, 0, len(lines))
	for _, l := range lines {
		if l.Kind == "notification" {
			continue
		}
		rows = append(rows, auditRow{At: l.At, What: translate(lang, "audit.kind."+l.Kind), Facts: facts(lang, l), Who: who(lang, l)})
	}
	return rows
}

func who(lang string, l wire.Event) string {
	switch {
	case l.ActorName != "":
		return l.ActorName
	case l.Actor == "system":
		return translate(lang, "audit.system")
	}
	return l.Actor
}

// facts says what a line's detail holds that a person needs, in words.
// Amounts are shown when the API gave them (agents who may see money).
func facts(lang string, l wire.Event) string {
	var d map[string]any
	_ = json.Unmarshal(l.Detail, &d) // a detail that is not an object has no facts to tell
	t := func(key string, args ...any) string { return fmt.Sprintf(translate(lang, key), args...) }
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	licences := func() {
		if q, ok := number(d["quantity"]); ok {
			add(t("audit.d.licences", q))
		}
	}
	amount := func(key string) string {
		if a, ok := number(d[key]); ok {
			if c, ok := d["currency"].(string); ok {
				return money(int64(a), c)
			}
		}
		return ""
	}
	switch l.Kind {
	case "purchased":
		licences()
		if f, ok := d["billingFrequency"].(string); ok {
			add(t("audit.d.billed", strings.ToLower(translate(lang, "freq."+f))))
		}
	case "isv_event.received", "isv_event.applied", "isv_event.rejected":
		if typ, ok := d["type"].(string); ok {
			// A type the console has no words for yet reads as its name.
			if words := translate(lang, "audit.isv."+typ); words != "audit.isv."+typ {
				add(words)
			} else {
				add(typ)
			}
		}
		from, _ := d["from"].(string)
		to, _ := d["to"].(string)
		if from != "" && to != "" && from != to {
			add(translate(lang, "status."+from) + " → " + translate(lang, "status."+to))
		}
		if reason, ok := d["reason"].(string); ok {
			add(reason)
		}
	case "billing.started":
		licences()
		add(dateFact(lang, "audit.d.termends", d["termEnd"]))
	case "billing.installment_charged":
		add(amount("amount"))
		licences()
	case "usage.closed":
		if _, ok := d["amount"]; ok {
			add(amount("amount"))
		}
	case "changed":
		for _, key := range []string{"nickname", "quantity", "autoRenew", "resellerPartnerId", "billingFrequency", "nextBillingFrequency"} {
			v, ok := d[key]
			if !ok {
				continue
			}
			switch key {
			case "nickname":
				add(t("audit.d.nickname", v))
			case "quantity":
				licences()
			case "autoRenew":
				add(translate(lang, fmt.Sprintf("audit.d.autorenew.%v", v)))
			case "resellerPartnerId":
				if v == "" {
					add(translate(lang, "audit.d.noreseller"))
				} else {
					add(t("audit.d.reseller", v))
				}
			case "billingFrequency":
				add(t("audit.d.billed", strings.ToLower(translate(lang, fmt.Sprintf("freq.%v", v)))))
			case "nextBillingFrequency":
				if v != "" {
					add(t("audit.d.nextfrequency", strings.ToLower(translate(lang, fmt.Sprintf("freq.%v", v)))))
				}
			}
		}
	case "cancellation.requested":
		add(dateFact(lang, "audit.d.until", d["deadline"]))
	case "cancelled":
		if a := amount("refunded"); a != "" {
			add(t("audit.d.refunded", a))
		}
	case "renewed":
		if n, ok := number(d["term"]); ok {
			if end, ok := when(d["termEnd"]); ok {
				add(t("audit.d.term", n, end))
			}
		}
	}
	return strings.Join(out, " · ")
}

// number reads a JSON number as a whole number.
func number(v any) (int, bool) {
	f, ok := v.(float64)
	return int(f), ok
}

// when reads a JSON time as a person's date.
func when(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", false
	}
	return at.UTC().Format("2006-01-02 15:04 UTC"), true
}

func dateFact(lang, key string, v any) string {
	if at, ok := when(v); ok {
		return fmt.Sprintf(translate(lang, key), at)
	}
	return ""
}
