package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cspmarket/orchestrator/internal/adapter/authcode"
	"github.com/cspmarket/orchestrator/internal/adapter/egress"
	"github.com/cspmarket/orchestrator/internal/adapter/saaswire"
	"github.com/cspmarket/orchestrator/internal/adapter/signature"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/adapter/wire"
	"github.com/cspmarket/orchestrator/internal/domain/lifecycle"
)

// Delivery vocabulary shared with the workflow that retries deliveries.
const (
	// DeliveryWorkflowName is the workflow type that delivers one notification.
	DeliveryWorkflowName = "NotificationDeliveryWorkflow"
	// NotificationIDHeader lets receivers drop a delivery they already took.
	NotificationIDHeader = "X-Marketplace-Notification-Id"
)

// DeliveryWorkflowID is the workflow ID delivering notification id: one
// delivery per notification however often its commit is retried.
func DeliveryWorkflowID(id int64) string { return "notification-" + strconv.FormatInt(id, 10) }

// startDeliveries starts the delivery of every notification of the
// transition whose recipient has an endpoint. Without an endpoint a
// notification stays in the outbox, readable through the API.
func (a *Activities) startDeliveries(ctx context.Context, t Transition, taskQueue string) error {
	if a.Temporal == nil || len(t.Notifications) == 0 {
		return nil
	}
	var recipients []store.Recipient
	for _, n := range t.Notifications {
		recipients = append(recipients, store.Recipient{Kind: n.RecipientKind, ID: n.RecipientID})
	}
	reachable, err := a.Store.RecipientsWithEndpoints(ctx, recipients)
	if err != nil || len(reachable) == 0 {
		return err
	}
	var keys []string
	for _, n := range t.Notifications {
		if reachable[store.Recipient{Kind: n.RecipientKind, ID: n.RecipientID}] {
			keys = append(keys, store.NotificationKey(t.Subscription.ID, t.Subscription.Version, lifecycle.Notification(n)))
		}
	}
	rows, err := a.Store.NotificationsByKeys(ctx, keys)
	if err != nil {
		return err
	}
	for _, row := range rows {
		_, err := a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: DeliveryWorkflowID(row.ID), TaskQueue: taskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			StaticSummary:         fmt.Sprintf("deliver %s to %s %s", row.Type, row.RecipientKind, row.RecipientID),
		}, DeliveryWorkflowName, row.ID)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			return fmt.Errorf("start delivery of notification %d: %w", row.ID, err)
		}
	}
	return nil
}

// CodeIssuer issues authorization codes (the API's, so both share the format).
type CodeIssuer func(ctx context.Context, sub store.Subscription) (*authcode.Link, error)

// DeliverNotification POSTs one notification, signed with the recipient's
// secret, and logs the attempt. It fails while the recipient does not
// answer 2xx, so Temporal retries it with backoff; receivers drop repeats
// by the notification id header.
func (a *Activities) DeliverNotification(ctx context.Context, id int64) error {
	n, err := a.Store.Notification(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Its step was written by a workflow task that was discarded, and
		// the task's retry replaced it: there is nothing to send.
		return nil
	} else if err != nil {
		return err
	}
	if n.Status == store.NotificationDelivered {
		return nil
	}
	if confirmed, err := a.awaitConfirmed(ctx, n); err != nil {
		return err
	} else if !confirmed {
		// Not an attempt: nothing was sent. Retried until the step is in
		// the history or replaced (then the notification is gone).
		return temporal.NewApplicationError("its step is not in the workflow's history yet", "step_unconfirmed")
	}
	endpoint, secret, err := a.Store.Endpoint(ctx, n.RecipientKind, n.RecipientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the endpoint was removed: the notification stays in the outbox
	} else if err != nil {
		return err
	}
	if n.RecipientKind == lifecycle.RecipientPublisher {
		secrets, err := a.Store.PublisherSecrets(ctx, n.RecipientID)
		if err != nil {
			return err
		}
		if len(secrets) == 0 {
			return temporal.NewNonRetryableApplicationError("publisher has no webhook secret to sign with", "no_secret", nil)
		}
		secret = secrets[0]
	}
	if n.RecipientKind == lifecycle.RecipientPublisher && endpoint.Dialect == store.DialectMicrosoft {
		return a.deliverMicrosoft(ctx, n, endpoint.URL)
	}
	out := wire.OutgoingNotification{
		ID: "ntf-" + strconv.FormatInt(n.ID, 10), Type: n.Type, CreatedAt: n.CreatedAt.UTC(), SubscriptionID: n.SubscriptionID,
		Recipient: n.RecipientKind + ":" + n.RecipientID, Data: json.RawMessage(n.Payload),
	}
	if n.Type == lifecycle.NotifyPurchased && n.RecipientKind == lifecycle.RecipientPublisher && a.IssueCode != nil {
		sub, err := a.Store.SubscriptionByID(ctx, n.SubscriptionID)
		if err != nil {
			return err
		}
		if link, err := a.IssueCode(ctx, sub); err == nil {
			expires := link.ExpiresAt.UTC()
			out.PublisherLink = &wire.PublisherLink{URL: link.URL, AuthorizationCode: link.AuthorizationCode, ExpiresAt: &expires}
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	attempt := int(activity.GetInfo(ctx).Attempt)
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.URL, bytes.NewReader(body))
	if err != nil {
		return a.attemptFailed(ctx, n, endpoint.URL, attempt, 0, start, egress.FailureTargetNotAllowed, err, true)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(NotificationIDHeader, out.ID)
	req.Header.Set(signature.Header, signature.Sign(secret, time.Now(), body))
	return a.send(ctx, n, req, attempt, start)
}

// send makes one delivery attempt and records it.
func (a *Activities) send(ctx context.Context, n store.Notification, req *http.Request, attempt int, start time.Time) error {
	url, recipient := req.URL.String(), n.RecipientKind+":"+n.RecipientID
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return a.attemptFailed(ctx, n, url, attempt, 0, start, egress.Category(err), err, false)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return a.attemptFailed(ctx, n, url, attempt, resp.StatusCode, start, egress.StatusCategory(resp.StatusCode),
			fmt.Errorf("endpoint answered %s", resp.Status), false)
	}
	a.log().Info("notification delivered", "notification", n.ID, "type", n.Type, "recipient", recipient, "attempt", attempt, "status", resp.StatusCode)
	if err := a.Store.RecordAttempt(ctx, store.Attempt{
		NotificationID: n.ID, Attempt: attempt, URL: url, StatusCode: resp.StatusCode, DurationMs: time.Since(start).Milliseconds(),
	}, store.NotificationDelivered); err != nil {
		return err
	}
	a.Metrics.Notification("delivered", "") // once it is recorded: a retry delivers again
	return nil
}

// awaitConfirmed asks stepConfirmed a few times over a second: a delivery
// starts from the commit, usually before the task that holds it completes,
// and is confirmed a few milliseconds later. Past that, the activity's
// retries wait.
func (a *Activities) awaitConfirmed(ctx context.Context, n store.Notification) (bool, error) {
	for i := 0; ; i++ {
		confirmed, err := a.stepConfirmed(ctx, n)
		if err != nil || confirmed || i == 9 {
			return confirmed, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// attemptFailed records a failed attempt under its coarse category (what
// the outbox shows); the raw cause goes to the operators' log only.
func (a *Activities) attemptFailed(ctx context.Context, n store.Notification, url string, attempt, code int, start time.Time, category string, cause error, final bool) error {
	a.Metrics.Notification("attempt_failed", category)
	a.log().Warn("notification delivery failed", "notification", n.ID, "type", n.Type, "recipient", n.RecipientKind+":"+n.RecipientID, "attempt", attempt, "status", code, "category", category, "error", cause.Error())
	if err := a.Store.RecordAttempt(ctx, store.Attempt{
		NotificationID: n.ID, Attempt: attempt, URL: url, StatusCode: code, Error: category, DurationMs: time.Since(start).Milliseconds(),
	}, ""); err != nil {
		return err
	}
	if final || category == egress.FailureTargetNotAllowed {
		// An endpoint outside the policy stays outside it: retrying
		// would only knock on the same door for three days.
		return temporal.NewNonRetryableApplicationError(category, "undeliverable", nil)
	}
	return temporal.NewApplicationError(category, "delivery_failed")
}

// FailNotification marks a notification whose retries ran out.
func (a *Activities) FailNotification(ctx context.Context, id int64, reason string) error {
	if err := a.Store.MarkNotification(ctx, id, store.NotificationFailed, reason); err != nil {
		return err
	}
	a.Metrics.Notification("failed", metricReason(reason))
	return nil
}

// metricReason keeps a metric label to the failure categories (a reason
// that is not one, such as another error's text, is "other").
func metricReason(reason string) string {
	if len(reason) > 40 {
		return "other"
	}
	for _, c := range reason {
		if (c < 'a' || c > 'z') && c != '_' {
			return "other"
		}
	}
	return reason
}

func (a *Activities) httpClient() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return egress.Policy{}.Client(10 * time.Second)
}

// deliverMicrosoft sends a publisher that chose Microsoft's dialect the
// webhook Microsoft would: the operation the step created or settled, the
// subscription as it was then, and a bearer JWT of this product whose
// audience is the publisher (verifiable with /.well-known/jwks.json). A
// notification that is no operation (a purchase: Microsoft's publishers
// learn of one from their landing page) is not sent, and says so.
func (a *Activities) deliverMicrosoft(ctx context.Context, n store.Notification, url string) error {
	var p struct {
		PlanID    string           `json:"planId"`
		Quantity  int              `json:"quantity"`
		Status    lifecycle.Status `json:"status"`
		AutoRenew bool             `json:"autoRenew"`
		Operation *struct {
			ID       string `json:"id"`
			Action   string `json:"action"`
			Status   string `json:"status"`
			Source   string `json:"source"`
			PlanID   string `json:"planId"`
			Quantity int    `json:"quantity"`
		} `json:"operation"`
	}
	if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
		return temporal.NewNonRetryableApplicationError("unreadable notification payload", "bad_payload", err)
	}
	if p.Operation == nil {
		return a.Store.MarkNotification(ctx, n.ID, store.NotificationSkipped, "not_in_dialect")
	}
	if a.Tokens == nil {
		return temporal.NewApplicationError("no token issuer to sign Microsoft webhooks with", "no_issuer")
	}
	row, err := a.Store.SubscriptionByID(ctx, n.SubscriptionID)
	if err != nil {
		return err
	}
	// The subscription as the step left it, not as it is now.
	sub := row.Subscription
	sub.PlanID, sub.Quantity, sub.Status, sub.AutoRenew = p.PlanID, p.Quantity, p.Status, p.AutoRenew
	view, ok := saaswire.SubscriptionOf(sub, nil)
	if !ok {
		return temporal.NewNonRetryableApplicationError("the subscription has no id in Microsoft's dialect", "no_uuid", nil)
	}
	op := p.Operation
	body, err := json.Marshal(saaswire.Webhook{
		ID: op.ID, ActivityID: op.ID, OperationRequestSource: op.Source, SubscriptionID: view.ID, PublisherID: sub.PublisherID,
		OfferID: sub.OfferID, PlanID: op.PlanID, Quantity: op.Quantity, TimeStamp: n.CreatedAt.UTC(), Action: op.Action, Status: op.Status,
		Subscription: view,
	})
	if err != nil {
		return err
	}
	token, _, err := a.Tokens.Issue(ctx, a.Tokens.URL, sub.PublisherID)
	if err != nil {
		return err
	}
	attempt, start := int(activity.GetInfo(ctx).Attempt), time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return a.attemptFailed(ctx, n, url, attempt, 0, start, egress.FailureTargetNotAllowed, err, true)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(NotificationIDHeader, "ntf-"+strconv.FormatInt(n.ID, 10))
	return a.send(ctx, n, req, attempt, start)
}
