package console

import (
	"strconv"
	"strings"
)

// Languages the console speaks, the first the default.
var languages = []string{"en", "fr"}

// catalog holds every string the console shows, one map per language: a
// page never spells a sentence itself (TestCatalogsHaveTheSameKeys).
var catalog = map[string]map[string]string{
	"en": {
		"title":                        "Partner Center — Marketplace",
		"skip":                         "Skip to content",
		"signin.heading":               "Sign in",
		"signin.token":                 "Agent token",
		"signin.help":                  "Paste the token of your agent (admin or sales). It is kept on the server, never in the address bar.",
		"signin.submit":                "Sign in",
		"signin.bad":                   "That token is unknown or revoked.",
		"signout":                      "Sign out",
		"nav.customers":                "Customers",
		"lang.switch":                  "Français",
		"customers.heading":            "Customers",
		"customers.search":             "Search customers",
		"customers.searchgo":           "Search",
		"customers.none":               "No customers yet.",
		"customers.name":               "Name",
		"customers.created":            "Added",
		"customers.add":                "Add a customer",
		"customers.addname":            "Customer name",
		"customers.addsubmit":          "Add customer",
		"subs.heading":                 "Subscriptions",
		"subs.tab.marketplace":         "Marketplace",
		"subs.filter.all":              "Show all subscriptions",
		"subs.filter.licence":          "Show licence-based subscriptions",
		"subs.none":                    "No marketplace subscriptions.",
		"subs.offer":                   "Offer",
		"subs.plan":                    "Plan",
		"subs.quantity":                "Licences",
		"subs.status":                  "Status",
		"subs.termend":                 "Term ends",
		"subs.autorenew":               "Auto-renew",
		"subs.actionneeded":            "Action needed",
		"subs.publisher":               "Go to the publisher's site",
		"yes":                          "Yes",
		"no":                           "No",
		"status.pending_fulfillment":   "Pending fulfillment",
		"status.provisioned":           "Provisioned",
		"status.active":                "Active",
		"status.suspended":             "Suspended",
		"status.pending_cancellation":  "Pending cancellation",
		"status.cancelled":             "Cancelled",
		"status.expired":               "Expired",
		"error.notfound":               "This page does not exist, or it is not yours.",
		"error.csrf":                   "This form expired. Reload the page and try again.",
		"error.unavailable":            "The service is busy. Try again in a moment.",
		"error.heading":                "Something went wrong",
		"error.back":                   "Back to customers",
		"role.admin_agent":             "Admin agent",
		"role.sales_agent":             "Sales agent",
		"signin.toomany":               "Too many failed sign-ins from this address: wait a few minutes.",
		"purchase.badfrequency":        "The plan is not billed that way.",
		"purchase.reviewfirst":         "Review the order, then press Buy.",
		"purchase.conflict":            "This order was already placed with other details: review it again.",
		"purchase.heading":             "Buy a marketplace offer",
		"purchase.offer":               "Offer",
		"purchase.plan":                "Plan",
		"purchase.planfrequency":       "The plan's default",
		"purchase.review":              "Review",
		"purchase.reviewheading":       "Review your purchase",
		"purchase.total":               "Price for the term",
		"purchase.billingnote":         "Nothing is charged until the publisher confirms the purchase; you then finish the setup on the publisher's site.",
		"purchase.buy":                 "Buy",
		"purchase.back":                "Change the order",
		"purchase.done":                "Purchase confirmed",
		"purchase.pending":             "The purchase is accepted and will appear in a moment.",
		"purchase.nextstep":            "Finish setting up the subscription on the publisher's site: billing starts once the publisher confirms it.",
		"purchase.see":                 "See the subscription",
		"purchase.badquantity":         "Choose a number of licences the plan allows:",
		"purchase.choose":              "Choose a plan of the offer.",
		"invoices.heading":             "Invoices",
		"invoices.number":              "Number",
		"invoices.month":               "Month",
		"invoices.issued":              "Issued",
		"invoices.none":                "No invoices yet.",
		"invoices.unbilled":            "Next invoice",
		"invoices.nounbilled":          "Nothing waits for the next invoice.",
		"invoices.invoice":             "Invoice",
		"invoices.total":               "Total",
		"invoices.csv":                 "Download the reconciliation file (CSV)",
		"invoices.salesreason":         "Invoices are for admin agents: sales agents can buy but do not see billing.",
		"subscription.details":         "Subscription",
		"subscription.nickname":        "Nickname",
		"subscription.quantity":        "Licences",
		"subscription.bounds":          "between the plan's minimum and maximum:",
		"subscription.autorenew":       "Renew automatically at the end of the term",
		"subscription.reseller":        "Indirect reseller PartnerID",
		"subscription.frequency":       "Billing frequency",
		"subscription.nextfrequency":   "From the next renewal:",
		"subscription.submit":          "Submit",
		"subscription.cancel":          "Cancel subscription",
		"subscription.cancelwindow":    "Cancellation window until",
		"subscription.cancelclosed":    "The cancellation window has closed: turn auto-renew off to end the subscription at the end of its term.",
		"subscription.salesreason":     "Sales agents can buy but not change subscriptions.",
		"subscription.ended":           "This subscription has ended: it cannot be changed.",
		"subscription.pendingapproval": "Waiting for the publisher to approve the cancellation.",
		"subscription.refundable":      "Licences you can still remove",
		"subscription.until":           "until",
		"subscription.code":            "Authorization code for the publisher's site",
		"subscription.audit":           "Audit trail",
		"subscription.charges":         "Charges",
		"subscription.nocharges":       "Nothing charged yet: billing starts when the publisher confirms.",
		"audit.when":                   "When",
		"audit.what":                   "What",
		"audit.who":                    "Who",
		"charges.kind":                 "Kind",
		"charges.reason":               "Reason",
		"charges.amount":               "Amount",
		"freq.monthly":                 "Monthly",
		"freq.annual":                  "Annual",
		"error.conflict":               "This change is not possible now.",
		"error.stale":                  "The subscription changed meanwhile. Reload it to see the change, then try again.",
	},
	"fr": {
		"title":                        "Espace partenaires — Place de marché",
		"skip":                         "Aller au contenu",
		"signin.heading":               "Connexion",
		"signin.token":                 "Jeton d'agent",
		"signin.help":                  "Collez le jeton de votre agent (administrateur ou commercial). Il reste sur le serveur, jamais dans la barre d'adresse.",
		"signin.submit":                "Se connecter",
		"signin.bad":                   "Ce jeton est inconnu ou révoqué.",
		"signout":                      "Se déconnecter",
		"nav.customers":                "Clients",
		"lang.switch":                  "English",
		"customers.heading":            "Clients",
		"customers.search":             "Rechercher des clients",
		"customers.searchgo":           "Rechercher",
		"customers.none":               "Aucun client pour l'instant.",
		"customers.name":               "Nom",
		"customers.created":            "Ajouté le",
		"customers.add":                "Ajouter un client",
		"customers.addname":            "Nom du client",
		"customers.addsubmit":          "Ajouter le client",
		"subs.heading":                 "Abonnements",
		"subs.tab.marketplace":         "Place de marché",
		"subs.filter.all":              "Afficher tous les abonnements",
		"subs.filter.licence":          "Afficher les abonnements par licence",
		"subs.none":                    "Aucun abonnement de la place de marché.",
		"subs.offer":                   "Offre",
		"subs.plan":                    "Plan",
		"subs.quantity":                "Licences",
		"subs.status":                  "État",
		"subs.termend":                 "Fin de la période",
		"subs.autorenew":               "Renouvellement automatique",
		"subs.actionneeded":            "Action requise",
		"subs.publisher":               "Accéder au site de l'éditeur",
		"yes":                          "Oui",
		"no":                           "Non",
		"status.pending_fulfillment":   "En attente de traitement",
		"status.provisioned":           "Approvisionné",
		"status.active":                "Actif",
		"status.suspended":             "Suspendu",
		"status.pending_cancellation":  "Annulation en attente",
		"status.cancelled":             "Annulé",
		"status.expired":               "Expiré",
		"error.notfound":               "Cette page n'existe pas, ou elle ne vous appartient pas.",
		"error.csrf":                   "Ce formulaire a expiré. Rechargez la page et réessayez.",
		"error.unavailable":            "Le service est occupé. Réessayez dans un instant.",
		"error.heading":                "Une erreur est survenue",
		"error.back":                   "Retour aux clients",
		"role.admin_agent":             "Agent administrateur",
		"role.sales_agent":             "Agent commercial",
		"signin.toomany":               "Trop de connexions échouées depuis cette adresse : patientez quelques minutes.",
		"purchase.badfrequency":        "Le plan n'est pas facturé ainsi.",
		"purchase.reviewfirst":         "Vérifiez la commande, puis appuyez sur Acheter.",
		"purchase.conflict":            "Cette commande a déjà été passée avec d'autres détails : vérifiez-la à nouveau.",
		"purchase.heading":             "Acheter une offre de la place de marché",
		"purchase.offer":               "Offre",
		"purchase.plan":                "Plan",
		"purchase.planfrequency":       "Celle du plan par défaut",
		"purchase.review":              "Vérifier",
		"purchase.reviewheading":       "Vérifiez votre achat",
		"purchase.total":               "Prix pour la période",
		"purchase.billingnote":         "Rien n'est facturé avant que l'éditeur confirme l'achat ; vous terminez ensuite la configuration sur le site de l'éditeur.",
		"purchase.buy":                 "Acheter",
		"purchase.back":                "Modifier la commande",
		"purchase.done":                "Achat confirmé",
		"purchase.pending":             "L'achat est accepté et apparaîtra dans un instant.",
		"purchase.nextstep":            "Terminez la configuration de l'abonnement sur le site de l'éditeur : la facturation commence quand l'éditeur la confirme.",
		"purchase.see":                 "Voir l'abonnement",
		"purchase.badquantity":         "Choisissez un nombre de licences que le plan autorise :",
		"purchase.choose":              "Choisissez un plan de l'offre.",
		"invoices.heading":             "Factures",
		"invoices.number":              "Numéro",
		"invoices.month":               "Mois",
		"invoices.issued":              "Émise le",
		"invoices.none":                "Aucune facture pour l'instant.",
		"invoices.unbilled":            "Prochaine facture",
		"invoices.nounbilled":          "Rien n'attend la prochaine facture.",
		"invoices.invoice":             "Facture",
		"invoices.total":               "Total",
		"invoices.csv":                 "Télécharger le fichier de rapprochement (CSV)",
		"invoices.salesreason":         "Les factures sont réservées aux agents administrateurs : les agents commerciaux peuvent acheter mais ne voient pas la facturation.",
		"subscription.details":         "Abonnement",
		"subscription.nickname":        "Surnom",
		"subscription.quantity":        "Licences",
		"subscription.bounds":          "entre le minimum et le maximum du plan :",
		"subscription.autorenew":       "Renouveler automatiquement à la fin de la période",
		"subscription.reseller":        "PartnerID du revendeur indirect",
		"subscription.frequency":       "Fréquence de facturation",
		"subscription.nextfrequency":   "À partir du prochain renouvellement :",
		"subscription.submit":          "Envoyer",
		"subscription.cancel":          "Annuler l'abonnement",
		"subscription.cancelwindow":    "Fenêtre d'annulation jusqu'au",
		"subscription.cancelclosed":    "La fenêtre d'annulation est fermée : désactivez le renouvellement automatique pour mettre fin à l'abonnement à la fin de sa période.",
		"subscription.salesreason":     "Les agents commerciaux peuvent acheter mais pas modifier les abonnements.",
		"subscription.ended":           "Cet abonnement est terminé : il ne peut plus être modifié.",
		"subscription.pendingapproval": "En attente de l'approbation de l'annulation par l'éditeur.",
		"subscription.refundable":      "Licences que vous pouvez encore retirer",
		"subscription.until":           "jusqu'au",
		"subscription.code":            "Code d'autorisation pour le site de l'éditeur",
		"subscription.audit":           "Journal d'audit",
		"subscription.charges":         "Frais",
		"subscription.nocharges":       "Rien n'est facturé pour l'instant : la facturation commence quand l'éditeur confirme.",
		"audit.when":                   "Quand",
		"audit.what":                   "Quoi",
		"audit.who":                    "Qui",
		"charges.kind":                 "Type",
		"charges.reason":               "Motif",
		"charges.amount":               "Montant",
		"freq.monthly":                 "Mensuelle",
		"freq.annual":                  "Annuelle",
		"error.conflict":               "Cette modification n'est pas possible pour l'instant.",
		"error.stale":                  "L'abonnement a changé entre-temps. Rechargez-le pour voir la modification, puis réessayez.",
	},
}

// translate is a string of lang's catalog, the English one when it lacks it.
func translate(lang, key string) string {
	if s, ok := catalog[lang][key]; ok {
		return s
	}
	if s, ok := catalog["en"][key]; ok {
		return s
	}
	return key
}

// language picks the language: the cookie the switch sets, else the best
// of Accept-Language, else English.
func language(cookie, acceptLanguage string) string {
	for _, l := range languages {
		if cookie == l {
			return l
		}
	}
	best, bestQ := languages[0], 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
				q = f
			} else {
				q = 0
			}
		}
		for _, l := range languages {
			if primary == l && q > bestQ {
				best, bestQ = l, q
			}
		}
	}
	return best
}
