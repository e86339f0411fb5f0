package saaswire

// Microsoft's marketplace metering API (../shared/data/meteringapi.v1.json)
// as /api serves it: the wire shapes, field for field.

// UsageEvent is one usage event as an ISV posts it.
type UsageEvent struct {
	ResourceID         string   `json:"resourceId"`
	ResourceURI        string   `json:"resourceUri,omitempty"`
	Quantity           *float64 `json:"quantity"`
	Dimension          string   `json:"dimension"`
	EffectiveStartTime string   `json:"effectiveStartTime"`
	PlanID             string   `json:"planId"`
}

// BatchUsageEvent is a batch of at most MaxBatch events.
type BatchUsageEvent struct {
	Request []UsageEvent `json:"request"`
}

// MaxBatch is the most events one batch may carry.
const MaxBatch = 25

// UsageEventResult is what happened to one event (UsageEventOkResponse,
// and with Error the batch's UsageBatchEventOkMessage).
type UsageEventResult struct {
	UsageEventID       string              `json:"usageEventId,omitempty"`
	Status             string              `json:"status"`
	MessageTime        string              `json:"messageTime"`
	ResourceID         string              `json:"resourceId,omitempty"`
	Quantity           float64             `json:"quantity"`
	Dimension          string              `json:"dimension"`
	EffectiveStartTime string              `json:"effectiveStartTime,omitempty"`
	PlanID             string              `json:"planId,omitempty"`
	Error              *UsageEventConflict `json:"error,omitempty"`
}

// UsageEventConflict answers a repeat (409, or a batch item's error): the
// event accepted first.
type UsageEventConflict struct {
	AdditionalInfo struct {
		AcceptedMessage *UsageEventResult `json:"acceptedMessage,omitempty"`
	} `json:"additionalInfo"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

// UsageEventBadRequest answers an event refused (400).
type UsageEventBadRequest struct {
	Code    string                       `json:"code"`
	Message string                       `json:"message"`
	Target  string                       `json:"target,omitempty"`
	Details []UsageEventBadRequestDetail `json:"details,omitempty"`
}

// UsageEventBadRequestDetail is one reason of a 400.
type UsageEventBadRequestDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// BatchUsageEventResult answers a batch: a result per event, in order.
type BatchUsageEventResult struct {
	Result []UsageEventResult `json:"result"`
	Count  int                `json:"count"`
}

// UsageRecord is one line of GET usageEvents (GetUsageEvent).
type UsageRecord struct {
	UsageDate         string  `json:"usageDate"`
	UsageResourceID   string  `json:"usageResourceId,omitempty"`
	Dimension         string  `json:"dimension"`
	PlanID            string  `json:"planId,omitempty"`
	PlanName          string  `json:"planName,omitempty"`
	OfferID           string  `json:"offerId,omitempty"`
	OfferName         string  `json:"offerName,omitempty"`
	OfferType         string  `json:"offerType"`
	ReconStatus       string  `json:"reconStatus"`
	SubmittedQuantity float64 `json:"submittedQuantity"`
	ProcessedQuantity float64 `json:"processedQuantity"`
	SubmittedCount    float64 `json:"submittedCount"`
}

// Reconciliation statuses of GET usageEvents.
const (
	ReconAccepted = "Accepted"
	ReconRejected = "Rejected"
)
