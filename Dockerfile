# The controller image: a static binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# -tags nodemo: the image carries no demo and no test machinery.
RUN CGO_ENABLED=0 go build -trimpath -tags nodemo \
    -ldflags "-s -w -X github.com/flotilla-gitops/flotilla/internal/version.Version=${VERSION} -X github.com/flotilla-gitops/flotilla/internal/version.Commit=${COMMIT}" \
    -o /out/flotilla ./cmd/flotilla

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/flotilla /flotilla
USER 65532:65532
ENTRYPOINT ["/flotilla"]
