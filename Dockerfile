# Builds the worker and the starter into one small image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/starter ./starter \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/worker ./worker

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/starter /out/worker /app/
USER nonroot
EXPOSE 8080
ENTRYPOINT []
CMD ["/app/starter"]
